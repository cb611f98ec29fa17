from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"

    def ready(self) -> None:
        from anymail.signals import tracking

        from campaigns.tracking import tracking_received

        # Anymail's signal is the library's one door in; the receiver stores and schedules.
        tracking.connect(tracking_received, dispatch_uid="campaigns.tracking_received")
