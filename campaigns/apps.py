from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        post_spawn.connect(_on_worker_spawn, dispatch_uid="campaigns.engine.spawn")


def _on_worker_spawn(sender, proc_name: str = "", **kwargs) -> None:
    """A task cluster (re)started: run a tick now rather than within the minute (crash recovery)."""
    from django_q.conf import Conf
    from django_q.tasks import async_task

    if Conf.SYNC:  # sync mode "spawns" a worker per task; the tick would recurse
        return
    async_task("campaigns.tasks.tick", group="tick")
