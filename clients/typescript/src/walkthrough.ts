/**
 * What a frontend does with the API, end to end, through the typed client: log in, see what the
 * caller may do, save a segment and preview its members, write a campaign aimed at it, send a
 * test, read the campaign's numbers and the overview, then rotate the refresh token and log out.
 *
 *   AUDIENCE_API_URL   the server (default http://127.0.0.1:8000)
 *   AUDIENCE_EMAIL     an ADMIN's email (test sends and campaigns are theirs alone)
 *   AUDIENCE_PASSWORD  that user's password
 *   AUDIENCE_TEST_TO   where the test goes (default: the caller's own address)
 *
 * Each step prints a line; the last line is a JSON summary of what was created. Any answer other
 * than the documented success stops the walk with the status and error body, exit code 1.
 */
import { ApiError, expectData, Session, type Schemas } from "./client.js";

function setting(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") {
    throw new Error(`Set ${name}.`);
  }
  return value;
}

/** The walk's result, printed as JSON on the last line for whoever runs it. */
interface Summary {
  me: Pick<Schemas["Me"], "id" | "email" | "role">;
  segment_id: number;
  matching_count: number;
  reachable_count: number;
  campaign_id: number;
  campaign_status: Schemas["CampaignStatusEnum"];
  test_sent_to: string[];
  campaign_stats: Record<string, number>;
  open_rate: number | null;
  campaigns_by_status: Record<string, number>;
  rotated_refresh_refused: boolean;
  logged_out: boolean;
}

async function walk(): Promise<Summary> {
  const session = new Session(setting("AUDIENCE_API_URL", "http://127.0.0.1:8000"));
  const api = session.api;

  await session.login(setting("AUDIENCE_EMAIL"), setting("AUDIENCE_PASSWORD"));
  const me = expectData("GET /api/auth/me/", await api.GET("/api/auth/me/"));
  console.log(`logged in as ${me.email} (${me.role}); may: ${describeActions(me.actions)}`);
  if (!me.actions.segments || !me.actions.campaigns || !me.actions.sending) {
    throw new Error(`${me.email} may not do all of this walk: log in as an ADMIN.`);
  }

  const stamp = new Date().toISOString();
  const segmentInput: Schemas["SegmentInputRequest"] = {
    name: `Active members (walkthrough ${stamp})`,
    description: "Saved by the typed client's walkthrough.",
    membership: "ACTIVE",
  };
  const segment = expectData("POST /api/segments/", await api.POST("/api/segments/", { body: segmentInput }));
  console.log(`segment ${segment.id} saved: ${segment.name}`);

  const preview = expectData(
    "GET /api/segments/{id}/preview/",
    await api.GET("/api/segments/{id}/preview/", { params: { path: { id: segment.id } } }),
  );
  const firstPage = preview.results.map((user) => user.email);
  console.log(
    `preview: ${preview.matching_count} matching, ${preview.reachable_count} reachable; ` +
      `first page: ${firstPage.slice(0, 5).join(", ")}${firstPage.length > 5 ? ", ..." : ""}`,
  );

  const campaignInput: Schemas["CampaignInputRequest"] = {
    subject: "Hello {{ first_name|default:'there' }}",
    preheader: "A campaign written through the API",
    body_html: "<p>Hello {{ first_name|default:'there' }},</p><p>This came from the typed client.</p>",
    segment: segment.id,
  };
  const campaign = expectData("POST /api/campaigns/", await api.POST("/api/campaigns/", { body: campaignInput }));
  console.log(`campaign ${campaign.id} drafted (${campaign.status}) for segment ${campaign.segment_name}`);

  const testSend = expectData(
    "POST /api/campaigns/{id}/test/",
    await api.POST("/api/campaigns/{id}/test/", {
      params: { path: { id: campaign.id } },
      body: { emails: [setting("AUDIENCE_TEST_TO", me.email)] },
    }),
  );
  console.log(`test sent to ${testSend.sent_to.join(", ")}`);

  const detail = expectData(
    "GET /api/campaigns/{id}/",
    await api.GET("/api/campaigns/{id}/", { params: { path: { id: campaign.id } } }),
  );
  const overview = expectData(
    "GET /api/campaigns/stats/",
    await api.GET("/api/campaigns/stats/", { params: { query: { months: 12 } } }),
  );
  console.log(
    `campaign ${detail.id}: ${detail.status}, ${detail.recipients_total} recipients, ` +
      `open rate ${formatRate(detail.rates.open_rate)}; ` +
      `${overview.totals.sent} sent in the last ${overview.months} months`,
  );

  // Rotation: the refresh token just traded is refused from now on, so a stolen one works once.
  const replaced = await session.refresh();
  const reuse = await api.POST("/api/auth/token/refresh/", { body: { refresh: replaced } });
  const rotatedRefused = reuse.response.status === 401;
  console.log(`refresh rotated; the replaced token is ${rotatedRefused ? "refused" : "STILL ACCEPTED"}`);

  const current = session.refreshToken;
  await session.logout();
  const afterLogout = await api.POST("/api/auth/token/refresh/", { body: { refresh: current } });
  const loggedOut = afterLogout.response.status === 401;
  console.log(`logged out; the refresh token is ${loggedOut ? "revoked" : "STILL ACCEPTED"}`);

  return {
    me: { id: me.id, email: me.email, role: me.role },
    segment_id: segment.id,
    matching_count: preview.matching_count,
    reachable_count: preview.reachable_count,
    campaign_id: detail.id,
    campaign_status: detail.status,
    test_sent_to: testSend.sent_to,
    campaign_stats: detail.stats,
    open_rate: detail.rates.open_rate,
    campaigns_by_status: overview.campaigns_by_status,
    rotated_refresh_refused: rotatedRefused,
    logged_out: loggedOut,
  };
}

function describeActions(actions: Schemas["Actions"]): string {
  const allowed = (Object.keys(actions) as (keyof Schemas["Actions"])[]).filter((name) => actions[name]);
  return allowed.length > 0 ? allowed.join(", ") : "nothing";
}

function formatRate(rate: number | null): string {
  return rate === null ? "n/a" : `${(rate * 100).toFixed(1)} %`;
}

walk().then(
  (summary) => {
    console.log(JSON.stringify(summary));
    if (!summary.rotated_refresh_refused || !summary.logged_out) {
      process.exitCode = 1;
    }
  },
  (error: unknown) => {
    console.error(error instanceof ApiError || error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
