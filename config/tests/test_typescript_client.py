"""The TypeScript client in clients/typescript/: its committed schema is the server's, and its
walkthrough (compiled with the project's pinned TypeScript, run by node) does a frontend's whole
path against a live server with Brevo played by the fake."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from accounts.models import MembershipStatus, Role
from accounts.tests.factories import UserFactory
from campaigns.models import Campaign, CampaignStatus
from segments.models import Segment

CLIENT = Path(django_settings.BASE_DIR) / "clients" / "typescript"
TSC = CLIENT / "node_modules" / ".bin" / "tsc"
PASSWORD = "walk-The-API-42"


def test_the_committed_schema_is_the_one_the_server_serves(tmp_path: Path) -> None:
    """The client's types are generated from clients/typescript/openapi.yaml; an API change that
    is not regenerated there would leave a frontend built on types the server no longer keeps."""
    fresh = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(fresh))
    committed = (CLIENT / "openapi.yaml").read_text()
    assert fresh.read_text() == committed, (
        "The API schema changed: run `make client` and commit clients/typescript/ "
        "(openapi.yaml and src/schema.d.ts), then fix what `tsc` reports in the walkthrough."
    )


@pytest.fixture(scope="module")
def walkthrough_js(tmp_path_factory: pytest.TempPathFactory) -> Path:
    node = shutil.which("node")
    if node is None or not TSC.exists():
        pytest.skip(
            "The walkthrough needs node and the client's packages: "
            "`cd clients/typescript && npm ci` (CI does it in .ci/run)."
        )
    out = tmp_path_factory.mktemp("walkthrough")
    # The package's own tsconfig (strict), emitting JavaScript that node runs as ES modules.
    compiled = subprocess.run(
        [str(TSC), "--project", str(CLIENT), "--outDir", str(out)], capture_output=True, text=True, timeout=300
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    (out / "package.json").write_text(json.dumps({"type": "module"}))
    # The compiled files import openapi-fetch: node finds it from their folder upwards.
    (out / "node_modules").symlink_to(CLIENT / "node_modules")
    return out / "walkthrough.js"


@pytest.mark.django_db(transaction=True)
def test_the_walkthrough_runs_against_a_live_server(walkthrough_js: Path, live_server, brevo) -> None:
    admin = UserFactory(
        role=Role.ADMIN, email="front@example.com", password=PASSWORD, membership_status=MembershipStatus.INACTIVE
    )
    for number in range(3):
        UserFactory(email=f"reader{number}@example.com")
    UserFactory(email="unverified@example.com", is_verified=False)
    UserFactory(email="inactive@example.com", membership_status=MembershipStatus.INACTIVE)

    walked = subprocess.run(
        ["node", str(walkthrough_js)],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": os.environ["PATH"],
            "AUDIENCE_API_URL": live_server.url,
            "AUDIENCE_EMAIL": admin.email,
            "AUDIENCE_PASSWORD": PASSWORD,
        },
    )
    assert walked.returncode == 0, walked.stdout + walked.stderr
    summary = json.loads(walked.stdout.strip().splitlines()[-1])

    assert summary["me"] == {"id": admin.pk, "email": admin.email, "role": "ADMIN"}
    segment = Segment.objects.get(pk=summary["segment_id"])
    assert segment.name.startswith("Active members (walkthrough ")
    assert (summary["matching_count"], summary["reachable_count"]) == (4, 3)
    campaign = Campaign.objects.get(pk=summary["campaign_id"])
    assert (campaign.segment_id, campaign.status, summary["campaign_status"]) == (
        segment.pk,
        CampaignStatus.DRAFT,
        "DRAFT",
    )
    assert summary["test_sent_to"] == [admin.email]
    assert [message["to"] for message in brevo.messages] == [admin.email]
    assert brevo.messages[0]["subject"].startswith("[TEST] Hello")
    assert summary["campaigns_by_status"]["DRAFT"] == 1
    assert summary["rotated_refresh_refused"] is True
    assert summary["logged_out"] is True
