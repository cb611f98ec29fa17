from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"

    def ready(self) -> None:
        from accounts.services import erasure_listener_register, opt_out_listener_register
        from brevo import on_trouble
        from campaigns import webhooks  # noqa: F401  registers the webhook secret's deploy check
        from campaigns.criteria import ENGAGEMENT_CRITERIA
        from campaigns.models import Campaign
        from campaigns.services.erasure import person_erase_campaign_data
        from campaigns.services.incidents import brevo_trouble_received
        from campaigns.services.segment_usage import segment_campaigns_blocking, segment_campaigns_release
        from campaigns.services.unsubscribe import opt_out_record
        from segments.criteria_providers import criteria_provider_register
        from segments.dependents import SegmentDependents, segment_dependents_register

        # accounts writes opt-outs without importing campaigns; campaigns records its side here.
        opt_out_listener_register(opt_out_record)
        # Erasing a person: campaigns scrubs its ledger rows and events before the user goes.
        erasure_listener_register(person_erase_campaign_data)
        # segments asks campaigns, without importing them, whether a segment may be deleted.
        segment_dependents_register(
            SegmentDependents(model=Campaign, release=segment_campaigns_release, blockers=segment_campaigns_blocking)
        )
        # brevo reports refused and rate-limited requests; the dashboard shows the latest of each.
        on_trouble(brevo_trouble_received)
        # Segments built from what campaigns learned: criteria the engine runs without importing us.
        criteria_provider_register(ENGAGEMENT_CRITERIA)
