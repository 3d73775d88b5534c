// The docs pages in a real browser, for scripts/browser_docs.py (read its docstring).
//
//     node docs_check.mjs BASE_URL ACCESS_TOKEN SCREENSHOT_PATH
//
// Drives the system's Chromium (/usr/bin/chromium, or CHROMIUM) with playwright-core, in
// a new empty profile, with every request that is not to BASE_URL's origin aborted and
// counted. On /api/docs it authorizes with the token, runs "Try it out" on
// GET /api/v1/users/me and reads the response Swagger UI shows; then it opens /api/redoc.
// It prints one JSON object (the findings; the Python script judges them) and exits 0,
// or prints an error and exits 1 when the browser could not be driven at all.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, token, screenshot] = process.argv.slice(2);
if (!base || !token || !screenshot) {
  console.error("usage: node docs_check.mjs BASE_URL ACCESS_TOKEN SCREENSHOT_PATH");
  process.exit(2);
}
const origin = new URL(base).origin;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const STEP_TIMEOUT = 15_000;

const findings = {
  external: [], // every URL outside `origin` the pages tried to load (all aborted)
  pageErrors: [], // uncaught exceptions in the pages
  // Per page: the Content-Security-Policy violations ("directive blocked-uri") among others.
  swagger: { cspViolations: [] },
  redoc: { cspViolations: [] },
  screenshot,
};

// Record every CSP violation, in every page and frame, before any page script runs.
const REPORT_VIOLATIONS = `
  document.addEventListener("securitypolicyviolation", (event) => {
    window.__cspViolations = window.__cspViolations || [];
    window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
  });
`;

// The page being checked: where console reports of CSP violations are filed.
let current = findings.swagger;

async function collectViolations(page, result) {
  result.cspViolations.push(...(await page.evaluate(() => window.__cspViolations || [])));
}

async function swaggerUI(page) {
  const result = findings.swagger;
  const response = await page.goto(`${origin}/api/docs`, { waitUntil: "networkidle" });
  result.status = response.status();
  result.csp = response.headers()["content-security-policy"] || null;

  await page.locator("button.btn.authorize").first().click();
  const dialog = page.locator(".modal-ux");
  await dialog.locator(".auth-container input").first().fill(token);
  await dialog.locator(".auth-btn-wrapper button.authorize").click();
  // Authorized: the dialog now offers "Logout" for the scheme.
  await dialog.locator(".auth-btn-wrapper button", { hasText: "Logout" }).waitFor();
  await dialog.locator(".auth-btn-wrapper button.btn-done").click();
  await dialog.waitFor({ state: "detached", timeout: STEP_TIMEOUT });

  const operation = page.locator(".opblock-get", {
    has: page.locator('.opblock-summary-path[data-path="/api/v1/users/me"]'),
  });
  await operation.locator(".opblock-summary").first().click();
  await operation.locator("button.try-out__btn").click();
  await operation.locator("button.execute").click();
  const live = operation.locator(".live-responses-table");
  await live.waitFor({ timeout: STEP_TIMEOUT });
  result.responseStatus = (await live.locator(".response .response-col_status").first().innerText()).trim();
  result.responseBody = await live.locator(".response .response-col_description pre").first().innerText();
  // Nothing of the token is kept by the page's origin (persistAuthorization off).
  const stored = await page.evaluate(() => ({ ...window.localStorage }));
  result.localStorageKeys = Object.keys(stored);
  result.tokenInLocalStorage = JSON.stringify(stored).includes(token);
  // The proof: the request URL, the status and the body Swagger UI shows, in one view.
  await operation.locator(".request-url").evaluate((element) => {
    element.scrollIntoView();
    window.scrollBy(0, -60);
  });
  await page.screenshot({ path: screenshot });
  await collectViolations(page, result);
}

async function redoc(page) {
  const result = findings.redoc;
  current = result;
  const response = await page.goto(`${origin}/api/redoc`, { waitUntil: "networkidle" });
  result.status = response.status();
  result.csp = response.headers()["content-security-policy"] || null;
  // Rendered from the schema: the API's title, and the operation's path in the side menu.
  await page.locator(".api-info h1").waitFor({ timeout: STEP_TIMEOUT });
  result.title = (await page.locator(".api-info h1").innerText()).trim();
  result.operations = await page.locator("[role=menuitem]").count();
  await collectViolations(page, result);
}

const profile = mkdtempSync(join(tmpdir(), "docs-check-profile-"));
let context;
let page;
let exitCode = 0;
try {
  // launchPersistentContext gives Chromium the new empty --user-data-dir itself.
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 1000 },
  });
  context.setDefaultTimeout(STEP_TIMEOUT);
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) {
      return route.continue();
    }
    findings.external.push(url);
    return route.abort("blockedbyclient");
  });
  await context.addInitScript(REPORT_VIOLATIONS);
  page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (error) => findings.pageErrors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy/i.test(message.text())) {
      current.cspViolations.push(`console: ${message.text()}`);
    }
  });
  await swaggerUI(page);
  await redoc(page);
} catch (error) {
  findings.error = String(error && error.stack ? error.stack : error);
  exitCode = 1;
  // The page as it was when the step failed, in place of the proof.
  await page?.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
} finally {
  if (context) {
    await context.close();
  }
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(findings));
process.exit(exitCode);
