import type { Route } from "../router.ts";
import { catalogRoutes } from "./catalog.ts";
import { checkoutRoutes } from "./checkout.ts";
import { couponRoutes, subscriptionDiscountRoutes } from "./coupons.ts";
import { customerRoutes } from "./customers.ts";
import { eventRoutes } from "./events.ts";
import { invoiceItemRoutes } from "./invoice-items.ts";
import { invoiceRoutes } from "./invoices.ts";
import { paymentIntentRoutes } from "./payment-intents.ts";
import { paymentMethodRoutes } from "./payment-methods.ts";
import { portalRoutes } from "./portal.ts";
import { promotionCodeRoutes } from "./promotion-codes.ts";
import { setupIntentRoutes } from "./setup-intents.ts";
import { subscriptionItemRoutes } from "./subscription-items.ts";
import { subscriptionScheduleRoutes } from "./subscription-schedules.ts";
import { subscriptionRoutes } from "./subscriptions.ts";
import { webhookEndpointRoutes } from "./webhook-endpoints.ts";

export const allRoutes: Route[] = [
  ...customerRoutes,
  ...paymentMethodRoutes,
  ...catalogRoutes,
  ...subscriptionRoutes,
  ...subscriptionScheduleRoutes,
  ...invoiceRoutes,
  ...invoiceItemRoutes,
  ...subscriptionItemRoutes,
  ...paymentIntentRoutes,
  ...eventRoutes,
  ...webhookEndpointRoutes,
  ...checkoutRoutes,
  ...portalRoutes,
  ...setupIntentRoutes,
  ...couponRoutes,
  ...promotionCodeRoutes,
  ...subscriptionDiscountRoutes,
];
