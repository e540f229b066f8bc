"""django-q2 tasks: thin, take ids, call services."""

from __future__ import annotations

from .models import AudienceImport


def import_audience(import_id: int) -> None:
    from .imports import run_import

    job = AudienceImport.objects.filter(pk=import_id, status=AudienceImport.Status.PENDING).first()
    if job is not None:
        run_import(job)


def fan_out(campaign_id: int) -> None:
    from .services import campaign_fan_out_run

    campaign_fan_out_run(campaign_id=campaign_id)


def dispatch(provider_id: int, slot: int = 0) -> None:
    from .services import dispatch_run

    dispatch_run(provider_id=provider_id, slot=slot)


def tick() -> None:
    from .services import engine_tick

    engine_tick()


def pick_winner(campaign_id: int) -> None:
    """Pick a tested campaign's winner now and send it to the rest (the tick does it when due)."""
    from .experiments import winner_pick

    winner_pick(campaign_id=campaign_id)
