import django_filters

from jobs.models import Job, JobStatus, TaskType


class JobFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=JobStatus.choices)
    type = django_filters.MultipleChoiceFilter(choices=TaskType.choices)
    product = django_filters.CharFilter()
    group = django_filters.CharFilter()
    name = django_filters.CharFilter()
    name__contains = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Job
        fields = ["status", "type", "product", "group", "name"]
