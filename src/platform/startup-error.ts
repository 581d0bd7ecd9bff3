/**
 * A start-up failure whose message is already the one line an operator needs (what is wrong and
 * what to do), printed as it is, without a stack trace (exitOnStartupFailure).
 */
export class StartupError extends Error {
  override name = "StartupError";
}
