"""Fewer indexes on jobs and runs: each costs every write of a row.

Planning a fire, a claim and a finish are non-HOT updates of the job (they change an
indexed column), so each adds an entry to every index of jobs_job; the runs alike. Gone:
the varchar_pattern_ops (LIKE 'x%') twins that `db_index=True` adds to product, group and
status (nothing queries them with LIKE), and the foreign-key indexes on jobs_job.owner_id
and jobs_run.job_id, whose columns lead job_owner_idx and run_job_idx. jobs_job goes
from 11 indexes to 7, jobs_run from 6 to 5.

The two foreign keys only lose their index (DROP INDEX): Django's AlterField would also
drop and re-add the constraint, which re-checks every row of a large table under lock.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="job",
            name="group",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.AlterField(
            model_name="job",
            name="product",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.AlterField(
            model_name="job",
            name="status",
            field=models.CharField(
                choices=[
                    ("scheduled", "Scheduled"),
                    ("running", "Running"),
                    ("paused", "Paused"),
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                    ("completed", "Completed"),
                    ("canceled", "Canceled"),
                ],
                default="scheduled",
                max_length=16,
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="job",
                    name="owner",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="jobs",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="run",
                    name="job",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="runs",
                        to="jobs.job",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "jobs_job_owner_id_4c884775"',
                    'CREATE INDEX "jobs_job_owner_id_4c884775" ON "jobs_job" ("owner_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "jobs_run_job_id_f26ec71d"',
                    'CREATE INDEX "jobs_run_job_id_f26ec71d" ON "jobs_run" ("job_id")',
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["product"], name="job_product_idx"),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["group"], name="job_group_idx"),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["status"], name="job_status_idx"),
        ),
    ]
