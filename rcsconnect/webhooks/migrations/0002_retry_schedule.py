"""Every minute, enqueue the webhook attempts whose backoff has run out."""

from django.db import migrations

FUNC = "rcsconnect.webhooks.tasks.webhook_retry_due_task"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    if not Schedule.objects.filter(func=FUNC).exists():
        Schedule.objects.create(name="rcsconnect webhook retries", func=FUNC, schedule_type="I", minutes=1, repeats=-1)


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
