"""Admin for audiences, campaigns and messages (operators' view; lifecycle goes through services)."""

from django import forms
from django.contrib import admin, messages

from .models import Audience, AudienceImport, Campaign, Contact, InboxMessage, Message, Segment, ShortLink
from .services import CampaignError, campaign_cancel, campaign_pause, campaign_resume


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "created_at"]
    search_fields = ["name"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["phone", "audience", "subscribed", "created_at"]
    list_filter = ["subscribed"]
    search_fields = ["phone"]
    raw_id_fields = ["audience"]
    show_full_result_count = False


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
    list_display = ["name", "status", "provider", "audience", "total_count", "sent_count", "failed_count"]
    list_filter = ["status", "provider"]
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
        "started_at",
        "paused_at",
        "fanned_out_at",
        "finished_at",
    ]

    def get_readonly_fields(self, request, obj=None):
        # Once sending starts a campaign's content and audience are locked, as on the dashboard.
        if obj is not None and not obj.is_editable:
            return [f.name for f in Campaign._meta.fields]
        return super().get_readonly_fields(request, obj)

    actions = [
        _lifecycle(campaign_pause, "Pause"),
        _lifecycle(campaign_resume, "Resume"),
        _lifecycle(campaign_cancel, "Cancel"),
    ]


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
    ]
    list_filter = ["status"]
    search_fields = ["msg_id", "to"]
    raw_id_fields = ["campaign", "contact", "provider"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False  # statuses only change through campaigns.state.advance


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
