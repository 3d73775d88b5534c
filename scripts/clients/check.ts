// A client written against the types openapi-typescript generates from the live OpenAPI
// document. scripts/clients.py writes them to ./api.d.ts beside a copy of this file and
// runs `tsc --noEmit --strict`: if the document stops saying what a client relies on here
// (the body of a login, the token pair, the profile, the codes of a login's 401), this
// file no longer compiles.
import type { paths } from "./api";

type Login = paths["/api/v1/auth/login"]["post"];
type LoginBody = NonNullable<Login["requestBody"]>["content"]["application/json"];
type LoggedIn = Login["responses"][200]["content"]["application/json"];
type LoginRefused = Login["responses"][401]["content"]["application/json"];
type Me = paths["/api/v1/users/me"]["get"];
type Profile = Me["responses"][200]["content"]["application/json"];
type MeRefused = Me["responses"][401]["content"]["application/json"];

// A login's 401 is INVALID_CREDENTIALS and nothing else.
const loginCode: LoginRefused["error"]["code"] = "INVALID_CREDENTIALS";
// @ts-expect-error: a login never answers TOKEN_EXPIRED.
const notALoginCode: LoginRefused["error"]["code"] = "TOKEN_EXPIRED";
// An error envelope's `success` is false, a success envelope's true.
const refusedFlag: LoginRefused["success"] = false;
// @ts-expect-error: an error is never a success.
const refusedIsNotTrue: LoginRefused["success"] = true;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(`${status} ${code}`);
  }
}

export async function login(base: string, body: LoginBody): Promise<LoggedIn["data"]> {
  const response = await fetch(`${base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.status === 401) {
    const refused = (await response.json()) as LoginRefused;
    const failed: false = refused.success;
    throw new ApiError(401, `${refused.error.code} ${failed}`);
  }
  const envelope = (await response.json()) as LoggedIn;
  const succeeded: true = envelope.success;
  if (!succeeded) {
    throw new ApiError(response.status, "unexpected");
  }
  return envelope.data;
}

export async function me(base: string, accessToken: string): Promise<string> {
  const response = await fetch(`${base}/api/v1/users/me`, {
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  if (response.status === 401) {
    const refused = (await response.json()) as MeRefused;
    const code: "NOT_AUTHENTICATED" | "TOKEN_INVALID" | "TOKEN_EXPIRED" = refused.error.code;
    throw new ApiError(401, code);
  }
  const envelope = (await response.json()) as Profile;
  const email: string = envelope.data.email;
  return `${envelope.data.username} <${email}>`;
}

export async function whoAmI(base: string, username: string, password: string): Promise<string> {
  const pair = await login(base, { username, password });
  // One schema for both outcomes of a login: a token pair, or `mfa_required`.
  if (pair.mfa_required || !pair.access_token || !pair.user || !pair.token_type) {
    throw new Error("a second factor is required: complete the login with /auth/login/2fa");
  }
  const tokenType: "Bearer" = pair.token_type;
  const expiresIn: number = pair.expires_in;
  const name: string = pair.user.username;
  return `${name} (${tokenType}, ${expiresIn} s): ${await me(base, pair.access_token)}`;
}

export const examples = { loginCode, notALoginCode, refusedFlag, refusedIsNotTrue };
