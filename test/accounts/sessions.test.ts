import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { TestApp } from "../helpers/app.ts";
import { bearer, PASSWORD, type Registered, registerUser, startAccountsApp } from "./helpers.ts";

let t: TestApp;
before(async () => {
  t = await startAccountsApp();
});
after(() => t.close());

interface SessionJson {
  id: string;
  user_agent: string;
  ip: string;
  created_at: string;
  last_used_at: string;
  current: boolean;
}

async function login(u: Registered, userAgent: string) {
  const res = await t.app.inject({
    method: "POST",
    url: "/api/auth/login/",
    headers: { "user-agent": userAgent },
    payload: { email: u.email, password: u.password },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().tokens as { access: string; refresh: string };
}

async function sessionsOf(access: string): Promise<SessionJson[]> {
  const res = await t.app.inject({ url: "/api/auth/sessions/", headers: bearer(access) });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().results;
}

const refresh = (token: string, userAgent = "laptop") =>
  t.app.inject({
    method: "POST",
    url: "/api/auth/token/refresh/",
    headers: { "user-agent": userAgent },
    payload: { refresh: token },
  });

const revoke = (access: string, id: string) =>
  t.app.inject({ method: "DELETE", url: `/api/auth/sessions/${id}/`, headers: bearer(access) });

describe("sessions", () => {
  test("each sign-in is a session with its user agent and IP; the caller's is marked current", async () => {
    const u = await registerUser(t.app);
    const phone = await login(u, "Phone/1.0");
    const laptop = await login(u, "Laptop/2.0");
    const listed = await sessionsOf(laptop.access);
    // Registration signed in too: three devices.
    assert.equal(listed.length, 3);
    const byAgent = new Map(listed.map((s) => [s.user_agent, s]));
    assert.equal(byAgent.get("Laptop/2.0")?.current, true);
    assert.equal(byAgent.get("Phone/1.0")?.current, false);
    assert.equal(byAgent.get("Laptop/2.0")?.ip, "127.0.0.1");
    assert.equal(listed.filter((s) => s.current).length, 1);
    const fromPhone = await sessionsOf(phone.access);
    assert.equal(fromPhone.find((s) => s.current)?.user_agent, "Phone/1.0");
  });

  test("a refresh keeps the session and moves its last use", async () => {
    const u = await registerUser(t.app);
    const first = await login(u, "Tablet/1");
    const [before] = (await sessionsOf(first.access)).filter((s) => s.current);
    assert.ok(before);
    const res = await refresh(first.refresh, "Tablet/2");
    assert.equal(res.statusCode, 200, res.body);
    const rotated = res.json() as { access: string; refresh: string };
    const after = await sessionsOf(rotated.access);
    assert.equal(after.length, 2);
    const current = after.find((s) => s.current);
    assert.equal(current?.id, before.id);
    assert.equal(current?.user_agent, "Tablet/2");
    assert.ok(Date.parse(current?.last_used_at ?? "") >= Date.parse(before.last_used_at));
  });

  test("ending one session stops its refresh token at once; the others keep working", async () => {
    const u = await registerUser(t.app);
    const phone = await login(u, "Phone");
    const laptop = await login(u, "Laptop");
    const phoneSession = (await sessionsOf(phone.access)).find((s) => s.current);
    assert.ok(phoneSession);
    const res = await revoke(laptop.access, phoneSession.id);
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.body, "");
    assert.equal((await refresh(phone.refresh)).statusCode, 401);
    assert.equal((await refresh(laptop.refresh)).statusCode, 200);
    // Its access token is refused at once too, not when it expires.
    const profile = (access: string) =>
      t.app.inject({ url: "/api/auth/profile/", headers: bearer(access) });
    const ended = await profile(phone.access);
    assert.equal(ended.statusCode, 401, ended.body);
    assert.deepEqual(ended.json(), { detail: "Session has ended", code: "token_not_valid" });
    assert.equal((await profile(laptop.access)).statusCode, 200);
    const ids = (await sessionsOf(laptop.access)).map((s) => s.id);
    assert.ok(!ids.includes(phoneSession.id));
    // Ended already: the same 404 as an unknown id.
    assert.equal((await revoke(laptop.access, phoneSession.id)).statusCode, 404);
  });

  test("another user's session is a 404 and stays open; a malformed id is a 404", async () => {
    const victim = await registerUser(t.app);
    const attacker = await registerUser(t.app);
    const [target] = await sessionsOf(victim.access);
    assert.ok(target);
    const res = await revoke(attacker.access, target.id);
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { detail: "Not found." });
    assert.equal((await refresh(victim.refresh)).statusCode, 200);
    const bad = await revoke(attacker.access, "not-a-uuid");
    assert.equal(bad.statusCode, 404);
    assert.deepEqual(bad.json(), { detail: "Not found." });
  });

  test("revoke-others leaves only the current session", async () => {
    const u = await registerUser(t.app);
    const phone = await login(u, "Phone");
    const laptop = await login(u, "Laptop");
    const res = await t.app.inject({
      method: "POST",
      url: "/api/auth/sessions/revoke-others/",
      headers: bearer(laptop.access),
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { message: "Other sessions revoked.", revoked: 2 });
    const left = await sessionsOf(laptop.access);
    assert.deepEqual(
      left.map((s) => [s.user_agent, s.current]),
      [["Laptop", true]],
    );
    assert.equal((await refresh(phone.refresh)).statusCode, 401);
    assert.equal((await refresh(u.refresh)).statusCode, 401);
    assert.equal((await refresh(laptop.refresh)).statusCode, 200);
  });

  test("a reused refresh token ends every session of the user", async () => {
    const u = await registerUser(t.app);
    const phone = await login(u, "Phone");
    const stolen = phone.refresh;
    assert.equal((await refresh(stolen)).statusCode, 200);
    const reused = await refresh(stolen);
    assert.equal(reused.statusCode, 401);
    assert.equal((await refresh(u.refresh)).statusCode, 401);
    const fresh = await login(u, "Again");
    assert.deepEqual(
      (await sessionsOf(fresh.access)).map((s) => s.user_agent),
      ["Again"],
    );
  });

  test("changing the password ends every session and opens one for this client", async () => {
    const u = await registerUser(t.app);
    const phone = await login(u, "Phone");
    const res = await t.app.inject({
      method: "POST",
      url: "/api/auth/change-password/",
      headers: { ...bearer(phone.access), "user-agent": "Phone" },
      payload: {
        old_password: PASSWORD,
        new_password: "Another-Horse-88",
        new_password_confirm: "Another-Horse-88",
      },
    });
    assert.equal(res.statusCode, 200, res.body);
    const tokens = res.json().tokens as { access: string; refresh: string };
    const listed = await sessionsOf(tokens.access);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.current, true);
    assert.equal((await refresh(phone.refresh)).statusCode, 401);
    assert.equal((await refresh(tokens.refresh)).statusCode, 200);
  });

  test("logout ends the session", async () => {
    const u = await registerUser(t.app);
    const phone = await login(u, "Phone");
    const out = await t.app.inject({
      method: "POST",
      url: "/api/auth/logout/",
      headers: bearer(u.access),
      payload: { refresh: u.refresh },
    });
    assert.equal(out.statusCode, 200, out.body);
    assert.deepEqual(
      (await sessionsOf(phone.access)).map((s) => s.user_agent),
      ["Phone"],
    );
  });

  test("a very long user agent is stored truncated", async () => {
    const u = await registerUser(t.app);
    const tokens = await login(u, `Agent/${"x".repeat(5000)}`);
    const current = (await sessionsOf(tokens.access)).find((s) => s.current);
    assert.equal(current?.user_agent.length, 512);
    assert.ok(current?.user_agent.startsWith("Agent/xxx"));
  });

  test("sessions need authentication", async () => {
    const res = await t.app.inject({ url: "/api/auth/sessions/" });
    assert.equal(res.statusCode, 401);
  });
});
