import { balanceAndItemDeclarations } from "./balance-and-items.ts";
import { billingDeclarations } from "./billing.ts";
import { catalogDeclarations } from "./catalog.ts";
import { changeDeclarations } from "./changes.ts";
import { customerDeclarations } from "./customers.ts";
import { discountDeclarations } from "./discounts.ts";
import { otherDeclarations } from "./other.ts";
import { scheduleDeclarations } from "./schedules.ts";
import type { Shape } from "./schema.ts";
import { setupDeclarations } from "./setup.ts";

/** The parameters of every endpoint the emulator serves, keyed by `METHOD /path/:arg`. */
export const DECLARATIONS: Readonly<Record<string, Shape>> = {
  ...customerDeclarations,
  ...catalogDeclarations,
  ...billingDeclarations,
  ...otherDeclarations,
  ...setupDeclarations,
  ...balanceAndItemDeclarations,
  ...changeDeclarations,
  ...discountDeclarations,
  ...scheduleDeclarations,
};
