"""The rollup the dashboard's charts read: runs counted per time bucket, owner and status.

Filled by beat (dashboard/rollup.py) from the runs' due times; a page view reads at most a
few hundred of these rows, never the run table.
"""

from django.db import models

# Bucket sizes (seconds): minutes for the last hour's chart, quarter hours for the day's,
# hours for the week's.
MINUTE, QUARTER, HOUR = 60, 900, 3600
GRAINS = (MINUTE, QUARTER, HOUR)
# owner_id of the rows that count every owner's runs (users who see every job read them).
EVERYONE = 0
# status of a bucket's total row: every run of the bucket, with the fire-lag histogram.
TOTAL = ""


class RunBucket(models.Model):
    """The runs due in [bucket, bucket + seconds) of one owner (or EVERYONE) in one status.

    The TOTAL row of a bucket counts all its runs and holds `lag`, a histogram of the fire
    lag (started_at - due_at) of those that started: {bucket index: runs}, the index from
    dashboard.histogram. Histograms add up, so a quarter hour's is the sum of its minutes'
    and every owner's is the sum of the owners'; percentiles come from the sum.
    """

    seconds = models.PositiveIntegerField()
    bucket = models.DateTimeField()
    # A user's id, or EVERYONE. No foreign key: a job's owner is never deleted (PROTECT),
    # and the rows of EVERYONE have no user.
    owner_id = models.BigIntegerField()
    status = models.CharField(max_length=16, blank=True)
    count = models.PositiveIntegerField(default=0)
    lag = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            # A chart reads one owner's buckets of one size over a time range: this key.
            models.UniqueConstraint(
                fields=["owner_id", "seconds", "bucket", "status"], name="runbucket_key"
            ),
        ]
        indexes = [
            # The rollup pass replaces whole minutes and prunes old buckets of every owner.
            models.Index(fields=["seconds", "bucket"], name="runbucket_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} +{self.seconds}s {self.owner_id} {self.status}"
