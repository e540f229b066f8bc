"""Admin for audiences, campaigns and messages (operators' view; lifecycle goes through services)."""

from django import forms
from django.contrib import admin, messages

from rcsconnect import roles
from rcsconnect.form_errors import add_errors

from . import sendrules
from .models import (
    Audience,
    AudienceImport,
    Campaign,
    Contact,
    Conversion,
    FrequencyRecord,
    InboxMessage,
    Message,
    Segment,
    ShortLink,
    Variant,
)
from .services import (
    CampaignError,
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    message_resend,
    message_retry,
)
from .validation import campaign_errors, contact_errors, send_rule_errors


class ContactAdminForm(forms.ModelForm):
    """The same rules as the API and the import (campaigns.validation.contact_errors)."""

    class Meta:
        model = Contact
        fields = ["audience", "phone", "attributes", "subscribed"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("phone"):
            cleaned["phone"], errors = contact_errors(
                audience=cleaned.get("audience"), phone_number=cleaned["phone"], instance=self.instance
            )
            add_errors(self, errors)
        return cleaned


class CampaignAdminForm(forms.ModelForm):
    """The same rules as the builder and the API (campaigns.validation.campaign_errors)."""

    class Meta:
        model = Campaign
        exclude: list[str] = []  # the admin's fieldsets and read-only fields decide what is shown

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "send_rules" in self.fields:
            self.fields["send_rules"].required = False  # not given: as the template's category says

    def clean_send_rules(self) -> str:
        return self.cleaned_data.get("send_rules") or Campaign.Rules.CATEGORY

    def clean(self):
        cleaned = super().clean()
        if "provider" in self.fields:  # an editable campaign (a started one is read-only here)
            mapping = cleaned.get("placeholder_mapping")
            errors = campaign_errors(
                provider=cleaned.get("provider"),
                template=cleaned.get("template"),
                placeholder_mapping=mapping if isinstance(mapping, list) else [],
                sms_fallback_text=cleaned.get("sms_fallback_text") or "",
                dlt_template_id=cleaned.get("dlt_template_id") or "",
                click_tracking=cleaned.get("click_tracking") or Campaign.ClickTracking.OFF,
                audience=cleaned.get("audience"),
                segment=cleaned.get("segment"),
            )
            rule_errors = send_rule_errors(
                window_start=cleaned.get("window_start"),
                window_end=cleaned.get("window_end"),
                window_timezone=cleaned.get("window_timezone") or "",
                frequency_period_hours=cleaned.get("frequency_period_hours"),
                send_until=cleaned.get("send_until"),
                ttl_hours=cleaned.get("ttl_hours"),
                launching=True,
            )
            for name, messages in rule_errors.items():
                errors.setdefault(name, []).extend(messages)
            add_errors(self, errors)
        return cleaned


class VariantFormSet(forms.BaseInlineFormSet):
    """The variants as a set: the same rules as the variants page and the API
    (campaigns.validation.experiment_errors), shown above the inline."""

    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return
        from .validation import experiment_errors

        kept = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        kept.sort(key=lambda data: data.get("label", ""))
        campaign = self.instance
        errors = experiment_errors(
            provider=campaign.provider if campaign.provider_id else None,
            holdout_percent=campaign.holdout_percent,
            test_percent=campaign.test_percent,
            winner_after_minutes=campaign.winner_after_minutes,
            variants=[
                {
                    "label": data.get("label", ""),
                    "template": data.get("template"),
                    "placeholder_mapping": data.get("placeholder_mapping") or [],
                    "split": data.get("split"),
                }
                for data in kept
            ],
        )
        if errors:
            raise forms.ValidationError([m for messages_ in errors.values() for m in messages_])


class VariantInline(admin.TabularInline):
    model = Variant
    formset = VariantFormSet
    extra = 0
    max_num = 4
    raw_id_fields = ["template"]

    def has_change_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_delete_permission(request, obj)


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "created_at"]
    search_fields = ["name"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactAdminForm
    list_display = ["phone", "audience", "subscribed", "created_at"]
    list_filter = ["subscribed"]
    search_fields = ["phone"]
    raw_id_fields = ["audience"]
    show_full_result_count = False


@admin.register(Conversion)
class ConversionAdmin(admin.ModelAdmin):
    """Conversions are recorded by the API (campaigns.conversions): read here, never typed in."""

    list_display = ["occurred_at", "event", "value", "phone", "campaign", "variant", "source"]
    list_filter = ["source", "variant", "event"]
    search_fields = ["phone", "event"]
    raw_id_fields = ["contact", "message", "campaign"]
    readonly_fields = [f.name for f in Conversion._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


class SegmentAdminForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "audience", "description", "match", "rules"]

    def clean_rules(self):
        from .segments import SegmentError, clean_rules

        try:  # the same check as the dashboard and the API (campaigns.segments)
            return clean_rules(self.cleaned_data.get("rules"))
        except SegmentError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentAdminForm
    list_display = ["name", "audience", "match", "rules_in_words", "updated_at"]
    list_filter = ["match"]
    search_fields = ["name"]
    raw_id_fields = ["audience"]
    readonly_fields = ["rules_in_words", "matching", "created_by", "created_at", "updated_at"]

    @admin.display(description="rules")
    def rules_in_words(self, obj: Segment) -> str:
        from .segments import describe

        joiner = " or " if obj.match == Segment.Match.ANY else " and "
        return joiner.join(describe(rule) for rule in obj.rules or []) or "every contact"

    @admin.display(description="matching contacts")
    def matching(self, obj: Segment) -> int | str:
        from .segments import contacts

        return contacts(obj).count() if obj.pk else "-"


@admin.register(AudienceImport)
class AudienceImportAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "audience",
        "original_name",
        "status",
        "imported_count",
        "invalid_count",
        "duplicate_count",
    ]
    list_filter = ["status"]
    readonly_fields = [f.name for f in AudienceImport._meta.fields]


def _lifecycle(func, label):
    def action(modeladmin, request, queryset):
        for campaign in queryset:
            try:
                func(campaign_id=campaign.pk)
            except CampaignError as exc:
                modeladmin.message_user(request, f"{campaign}: {exc}", messages.ERROR)

    action.short_description = label
    action.__name__ = func.__name__
    action.allowed_permissions = ("change",)  # the lifecycle needs change_campaign (roles table)
    return action


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignAdminForm
    list_display = [
        "name",
        "status",
        "provider",
        "audience",
        "total_count",
        "sent_count",
        "failed_count",
        "skipped_count",
        "expired_count",
        "send_rules_summary",
    ]
    list_filter = ["status", "provider", "send_rules"]
    search_fields = ["name"]
    readonly_fields = [
        "status",
        "msg_prefix",
        "total_count",
        "processed_count",
        "sent_count",
        "delivered_rcs_count",
        "delivered_sms_count",
        "read_count",
        "clicked_count",
        "replied_count",
        "failed_count",
        "cancelled_count",
        "skipped_count",
        "expired_count",
        "expires_at",
        "waiting_for_window",
        "started_at",
        "paused_at",
        "fanned_out_at",
        "finished_at",
        "holdout_count",
        "winner_variant",
        "winner_picked_at",
        "rest_fanned_out_at",
        "experiment_results",
    ]
    inlines = [VariantInline]

    @admin.display(description="Send rules")
    def send_rules_summary(self, obj: Campaign) -> str:
        return " · ".join(sendrules.describe(obj))

    @admin.display(description="Waiting for window")
    def waiting_for_window(self, obj: Campaign) -> int:
        return sendrules.waiting_for_window(obj).count if obj is not None and obj.pk else 0

    def get_readonly_fields(self, request, obj=None):
        # Once sending starts a campaign's content and audience are locked, as on the dashboard.
        if obj is not None and not obj.is_editable:
            return [*(f.name for f in Campaign._meta.fields), "experiment_results", "waiting_for_window"]
        return super().get_readonly_fields(request, obj)

    @admin.display(description="A/B results")
    def experiment_results(self, obj: Campaign) -> str:
        """Per variant and the holdout: contacts, CTR, reply rate, conversions and lift
        (campaigns.stats.variant_results, as on the stats page)."""
        from django.utils.html import format_html, format_html_join

        from .stats import variant_results
        from .templatetags.stats_tags import rate

        experiment = variant_results(obj) if obj and obj.pk else None
        if experiment is None:
            return "No variants or holdout."
        groups = [*experiment.variants, *([experiment.holdout] if experiment.holdout else [])]
        rows = format_html_join(
            "",
            "<li>{}: {} contacts, CTR {}, reply rate {}, {} conversions ({} per contact), lift {}</li>",
            (
                (
                    g.label or "sent",
                    g.members,
                    rate(g.funnel.ctr),
                    rate(g.funnel.reply_rate),
                    g.funnel.conversions,
                    rate(g.recipient_conversion_rate),
                    "baseline" if g.is_holdout else rate(experiment.lift.get(g.label)),
                )
                for g in groups
            ),
        )
        winner = f" Winner: {experiment.winner}." if experiment.winner else ""
        return format_html("<ul>{}</ul>{}", rows, winner)

    actions = [
        _lifecycle(campaign_pause, "Pause"),
        _lifecycle(campaign_resume, "Resume"),
        _lifecycle(campaign_cancel, "Cancel"),
    ]


@admin.register(FrequencyRecord)
class FrequencyRecordAdmin(admin.ModelAdmin):
    """What the frequency cap counts (campaigns.sendrules): read only."""

    list_display = ["to", "at", "message"]
    search_fields = ["to"]
    raw_id_fields = ["message"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "msg_id",
        "to",
        "status",
        "rcs_status",
        "sms_status",
        "attempts",
        "error_code",
        "campaign",
        "variant",
        "repeat_of",
    ]
    list_filter = ["status", "variant"]
    search_fields = ["msg_id", "to"]
    raw_id_fields = ["campaign", "contact", "provider", "repeat_of"]
    show_full_result_count = False
    actions = ["retry", "resend"]

    def has_change_permission(self, request, obj=None):
        return False  # statuses only change through campaigns.state.advance

    def has_repeat_permission(self, request) -> bool:
        return request.user.has_perm(roles.REPEAT_MESSAGE)

    @admin.action(
        description="Retry selected failed messages (a new attempt, new msgId)", permissions=["repeat"]
    )
    def retry(self, request, queryset):
        self._each(request, queryset, message_retry, "Retried")

    @admin.action(description="Resend selected sent messages (as new messages)", permissions=["repeat"])
    def resend(self, request, queryset):
        self._each(request, queryset, message_resend, "Resent")

    def _each(self, request, queryset, operation, done_label):
        done = []
        for message in queryset.order_by("id"):
            try:
                done.append(operation(message_id=message.pk).msg_id)
            except CampaignError as exc:
                self.message_user(request, f"{message}: {exc}", messages.ERROR)
        if done:
            self.message_user(
                request, f"{done_label} {len(done)} message(s): {', '.join(done)}.", messages.SUCCESS
            )


@admin.register(InboxMessage)
class InboxMessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "provider", "phone", "direction", "text", "action", "message")
    list_filter = ("direction", "action", "provider")
    search_fields = ("phone", "text", "postback_data")
    raw_id_fields = ("message", "contact", "event", "created_by")
    date_hierarchy = "created_at"


@admin.register(ShortLink)
class ShortLinkAdmin(admin.ModelAdmin):
    list_display = ("code", "url", "message", "click_count", "first_clicked_at", "bot_count")
    search_fields = ("code", "url", "message__msg_id", "message__to")
    raw_id_fields = ("message", "campaign")
    readonly_fields = (
        "code",
        "url",
        "url_hash",
        "click_count",
        "bot_count",
        "first_clicked_at",
        "last_clicked_at",
    )
