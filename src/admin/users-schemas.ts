import { Type } from "typebox";
import { Invoice, Payment, SubscriptionStatus } from "../billing/index.ts";
import { Nullable } from "../platform/http/nullable.ts";
import { PageQuery, Paginated } from "../platform/http/pagination.ts";
import { StaffSubscription } from "./subscriptions-schemas.ts";

const Time = Type.String({ format: "date-time" });
const NullableTime = Nullable(Time);

export const StaffUser = Type.Object({
  id: Type.String({ format: "uuid" }),
  email: Type.String(),
  username: Type.String(),
  first_name: Type.String(),
  last_name: Type.String(),
  is_active: Type.Boolean(),
  is_staff: Type.Boolean(),
  is_superuser: Type.Boolean(),
  email_verified: Type.Boolean(),
  stripe_customer_id: Nullable(Type.String()),
  last_login: NullableTime,
  created_at: Time,
});

export const StaffUserPage = Paginated(StaffUser);

export const UserQuery = Type.Object({
  ...PageQuery.properties,
  search: Type.Optional(
    Type.String({
      maxLength: 254,
      description:
        "Part of the email, username or name (any case), or a Stripe customer id or user id exactly.",
      examples: ["ada@example.com"],
    }),
  ),
});

export const UserParams = Type.Object({ id: Type.String({ format: "uuid" }) });

export const OutboxEmail = Type.Object({
  id: Type.String({ format: "uuid" }),
  template: Type.String(),
  recipient: Type.String(),
  subject: Type.String(),
  status: Type.String({ enum: ["queued", "retrying", "sent", "failed"] }),
  attempts: Type.Integer(),
  last_error: Nullable(Type.String()),
  sent_at: NullableTime,
  created_at: Time,
});

export const Session = Type.Object({
  id: Type.String({ format: "uuid" }),
  user_agent: Type.String(),
  ip: Type.String(),
  created_at: Time,
  last_used_at: Time,
  expires_at: Time,
});

export const AuditEntry = Type.Object({
  id: Type.Integer(),
  kind: Type.String({ examples: ["subscription.status_changed"] }),
  subject_id: Nullable(Type.String()),
  actor_kind: Type.String({ enum: ["user", "admin", "stripe_event", "system"] }),
  actor_id: Nullable(Type.String()),
  request_id: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  before: Type.Record(Type.String(), Type.Unknown()),
  after: Type.Record(Type.String(), Type.Unknown()),
  created_at: Time,
});

const LIMIT = "the newest 20";

export const UserDetail = Type.Object({
  user: StaffUser,
  subscription: SubscriptionStatus,
  subscriptions: Type.Array(StaffSubscription, { description: `Every subscription, ${LIMIT}.` }),
  invoices: Type.Array(Invoice, { description: `Invoices, ${LIMIT}.` }),
  payments: Type.Array(Payment, { description: `Payments, ${LIMIT}.` }),
  emails: Type.Array(OutboxEmail, { description: `Emails sent or queued, ${LIMIT}.` }),
  sessions: Type.Array(Session, { description: "Open sessions, most recently used first." }),
  audit: Type.Array(AuditEntry, { description: "Audit trail, the newest 50." }),
});

export const ResendEmailBody = Type.Object({
  email_id: Type.Optional(
    Type.String({
      format: "uuid",
      description:
        "An email of this user's (from the detail's `emails`) to send again as it was. Left out: a new verification email with a fresh link.",
    }),
  ),
});

export const ResendResult = Type.Object({
  message: Type.String(),
  email_id: Nullable(
    Type.String({ format: "uuid", description: "The copy's id; null for a verification email." }),
  ),
});
