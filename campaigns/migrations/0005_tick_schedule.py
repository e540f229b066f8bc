"""The engine's periodic tick (start scheduled campaigns, restart dispatch, finish campaigns)."""

from django.db import migrations

FUNC = "campaigns.tasks.tick"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    if not Schedule.objects.filter(func=FUNC).exists():
        Schedule.objects.create(name="rcsconnect engine tick", func=FUNC, schedule_type="I", minutes=1, repeats=-1)


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0004_engine"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
