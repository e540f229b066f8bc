"""Every minute, make sure stored callback events are being applied (recovers from a lost applier task)."""

from django.db import migrations

FUNC = "campaigns.events.events_applier_kick"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    if not Schedule.objects.filter(func=FUNC).exists():
        Schedule.objects.create(
            name="rcsconnect callback events applier", func=FUNC, schedule_type="I", minutes=1, repeats=-1
        )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0005_tick_schedule"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
