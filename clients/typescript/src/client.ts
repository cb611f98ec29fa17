/**
 * A typed client for the Audience mail API: openapi-fetch over the types openapi-typescript
 * generates from the server's schema (`make client` writes src/schema.d.ts), and a session
 * that holds the JWT pair the way a frontend would (log in, refresh with rotation, log out).
 */
import createClient, { type Middleware } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export type Schemas = components["schemas"];
export type ApiClient = ReturnType<typeof createClient<paths>>;

/** A call that did not answer with its documented success: the status and the error body. */
export class ApiError extends Error {
  constructor(
    readonly what: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`${what}: HTTP ${status} ${JSON.stringify(body)}`);
    this.name = "ApiError";
  }
}

/**
 * The success body of a call, or an ApiError. The body's type is the one the schema declares
 * for that operation's 2xx answer, so a field the server stops sending fails `tsc`.
 */
export function expectData<T>(
  what: string,
  result: { data?: T; error?: unknown; response: Response },
): T {
  if (result.data === undefined) {
    throw new ApiError(what, result.response.status, result.error);
  }
  return result.data;
}

/**
 * One signed-in user's access to the API. Every request carries `Authorization: Bearer
 * <access>`; `refresh()` trades the refresh token for a new pair (the old one stops working:
 * the server rotates and blacklists refresh tokens), `logout()` revokes the current one.
 */
export class Session {
  readonly api: ApiClient;
  private tokens: Schemas["TokenPair"] | null = null;

  constructor(readonly baseUrl: string) {
    this.api = createClient<paths>({ baseUrl });
    const bearer: Middleware = {
      onRequest: ({ request }) => {
        if (this.tokens !== null) {
          request.headers.set("Authorization", `Bearer ${this.tokens.access}`);
        }
        return request;
      },
    };
    this.api.use(bearer);
  }

  get refreshToken(): string {
    if (this.tokens === null) {
      throw new Error("Not logged in.");
    }
    return this.tokens.refresh;
  }

  async login(email: string, password: string): Promise<void> {
    this.tokens = null;
    this.tokens = expectData(
      "POST /api/auth/token/",
      await this.api.POST("/api/auth/token/", { body: { email, password } }),
    );
  }

  /** A new pair for the current refresh token; returns the refresh token it replaced. */
  async refresh(): Promise<string> {
    const previous = this.refreshToken;
    this.tokens = expectData(
      "POST /api/auth/token/refresh/",
      await this.api.POST("/api/auth/token/refresh/", { body: { refresh: previous } }),
    );
    return previous;
  }

  async logout(): Promise<void> {
    const { response, error } = await this.api.POST("/api/auth/logout/", {
      body: { refresh: this.refreshToken },
    });
    if (response.status !== 204) {
      throw new ApiError("POST /api/auth/logout/", response.status, error);
    }
    this.tokens = null;
  }
}
