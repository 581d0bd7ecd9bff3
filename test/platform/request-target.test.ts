import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Type } from "typebox";
import type { AppModule } from "../../src/platform/feature.ts";
import { errorResponses, failures } from "../../src/platform/http/error-schemas.ts";
import {
  PageQuery,
  Paginated,
  pageRequest,
  paginated,
} from "../../src/platform/http/pagination.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { PRODUCTION } from "../helpers/production.ts";
import { rawGet } from "../helpers/raw-http.ts";

// Pagination links and the HTTPS redirect are absolute URLs; their authority must be the Host
// header production checked against ALLOWED_HOSTS, whatever the request line says. Over a real
// socket: `inject` and `fetch` would normalize these request targets before the server saw them.

const items: AppModule = (app) => {
  app.get(
    "/test/items/",
    {
      schema: {
        querystring: PageQuery,
        response: {
          200: Paginated(Type.Integer()),
          ...errorResponses(failures.any, failures.fields, failures.page),
        },
      },
    },
    async (request) => {
      const at = pageRequest(request.query);
      const all = Array.from({ length: 45 }, (_, i) => i + 1);
      return paginated(request, at, all.length, all.slice(at.offset, at.offset + at.limit));
    },
  );
};

let t: TestApp;
let base: string;
before(async () => {
  t = await startTestApp({ modules: [items], worker: false, env: PRODUCTION });
  base = await t.app.listen({ port: 0, host: "127.0.0.1" });
});
after(() => t.close());

// The test connects from loopback, the one proxy hop TRUST_PROXY=1 trusts.
const valid = { host: "api.example.com", "x-forwarded-proto": "https" };

describe("links are built from the validated host", () => {
  test("an absolute-form request target does not choose the links' host", async () => {
    const res = await rawGet(base, "http://evil.com/test/items/?q=x", valid);
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body);
    assert.equal(body.next, "https://api.example.com/test/items/?q=x&page=2");
    const second = await rawGet(base, "http://evil.com/test/items/?page=2", valid);
    assert.equal(JSON.parse(second.body).previous, "https://api.example.com/test/items/");
  });

  test("a doubled slash is not read as an authority", async () => {
    const res = await rawGet(base, "//test/items/?q=x", valid);
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).next, "https://api.example.com/test/items/?q=x&page=2");
    const deeper = await rawGet(base, "//test//items/?page=2", valid);
    assert.equal(JSON.parse(deeper.body).previous, "https://api.example.com/test/items/");
  });

  test("the HTTPS redirect of an absolute-form target stays on the validated host", async () => {
    const res = await rawGet(base, "http://evil.com/test/items/?page=2", {
      host: "api.example.com",
    });
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, "https://api.example.com/test/items/?page=2");
  });

  test("a Host that only ends like an allowed domain is refused", async () => {
    // ".example.org" is allowed; "evil.com/x.example.org" ends with it but is no host name.
    for (const host of ["evil.com/x.example.org", "evil.com?.example.org", "a@b.example.org"]) {
      const res = await rawGet(base, "/test/items/", { ...valid, host });
      assert.equal(res.status, 400, host);
      assert.deepEqual(JSON.parse(res.body), { detail: "Invalid HTTP_HOST header." });
    }
  });
});
