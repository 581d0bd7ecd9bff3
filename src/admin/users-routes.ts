import { requireUser, searchUsers } from "../accounts/index.ts";
import type { AppDeps } from "../platform/feature.ts";
import { businessFailure, failures } from "../platform/http/error-schemas.ts";
import { described } from "../platform/http/openapi.ts";
import { pageRequest, paginated } from "../platform/http/pagination.ts";
import type { App } from "../platform/http/types.ts";
import { adminErrors, adminWriteErrors } from "./staff-guard.ts";
import {
  ResendEmailBody,
  ResendResult,
  StaffUser,
  StaffUserPage,
  UserDetail,
  UserParams,
  UserQuery,
} from "./users-schemas.ts";
import { resendEmail, setActive, staffUserBody, userDetail } from "./users-service.ts";

const base = { tags: ["admin"], security: [{ bearerAuth: [] }] };
const noUser = businessFailure(404, "No such user.");

/** `/api/admin/users/…`: find a customer, read everything about them, act on the account. */
export function usersRoutes(app: App, deps: AppDeps): void {
  const db = deps.database.db;

  app.get(
    "/api/admin/users/",
    {
      schema: {
        ...base,
        operationId: "admin_users_list",
        summary: "Find users by email, username, name, Stripe customer id or id; newest first.",
        description:
          "Example: `?search=ada@example.com`. Pages of 20, `{count, next, previous, results}`; `%` and `_` match themselves.",
        querystring: UserQuery,
        response: {
          200: described("A page of users.", StaffUserPage),
          ...adminErrors(failures.fields, failures.page),
        },
      },
    },
    async (request) => {
      const at = pageRequest(request.query);
      const found = await searchUsers(db, request.query.search, at);
      return paginated(request, at, found.count, found.users.map(staffUserBody));
    },
  );

  app.get(
    "/api/admin/users/:id/",
    {
      schema: {
        ...base,
        operationId: "admin_users_read",
        summary:
          "A user with their subscriptions, invoices, payments, emails, sessions and audit trail.",
        description:
          "The current subscription as the user's status/ shows it; the newest 20 subscriptions, invoices, payments and emails; open sessions; the newest 50 audit entries (actor `admin` for staff actions).",
        params: UserParams,
        response: {
          200: described("The user and their history.", UserDetail),
          ...adminErrors(failures.fields, [noUser]),
        },
      },
    },
    async (request) => userDetail(db, request.params.id),
  );

  for (const active of [true, false]) {
    const verb = active ? "activate" : "deactivate";
    app.post(
      `/api/admin/users/:id/${verb}/`,
      {
        schema: {
          ...base,
          operationId: `admin_users_${verb}`,
          summary: active
            ? "Let a deactivated user sign in again (their old sessions stay ended)."
            : "Lock a user out now: every token stops working and every session ends.",
          description:
            "Deactivation locks the user out at once (every request reads `is_active`) and ends every session, so a later activation asks for a fresh sign-in. Staff cannot deactivate themselves; a deleted account cannot be activated.",
          params: UserParams,
          response: {
            200: described("The user.", StaffUser),
            ...adminWriteErrors(failures.jsonBody, [
              noUser,
              active
                ? businessFailure(409, "The account is deleted.")
                : businessFailure(400, "Staff cannot deactivate themselves."),
            ]),
          },
        },
      },
      async (request) =>
        staffUserBody(await setActive(db, requireUser(request).id, request.params.id, active)),
    );
  }

  app.post(
    "/api/admin/users/:id/resend-email/",
    {
      schema: {
        ...base,
        operationId: "admin_users_resend_email",
        summary: "Send a new verification email, or one of the user's emails again (`email_id`).",
        description:
          'Without a body: a new verification link (the previous one stops working). With `{"email_id": \u2026}`: a copy of that email of this user, exactly as it was rendered, as a new email row.',
        params: UserParams,
        body: ResendEmailBody,
        response: {
          202: described("Queued.", ResendResult),
          ...adminWriteErrors(failures.jsonBody, [
            noUser,
            businessFailure(404, "The user has no email with that id."),
            businessFailure(400, "The address is already verified (a verification email)."),
          ]),
        },
      },
      config: { optionalBody: true },
    },
    async (request, reply) => {
      const copy = await resendEmail(deps, request.params.id, request.body.email_id);
      reply.code(202);
      return copy
        ? { message: "Email queued again.", email_id: copy }
        : { message: "Verification email queued.", email_id: null };
    },
  );
}
