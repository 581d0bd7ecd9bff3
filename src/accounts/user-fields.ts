/**
 * What a username or a name may hold, beyond the schema's lengths. The text reaches the database,
 * the logs and other people's inboxes (the welcome email goes to whatever address was typed), so
 * it must be one inert line.
 */

const MAX_LENGTH = 150;

// DRF's CharField refuses these two in every text field, with these messages. A NUL would
// otherwise reach PostgreSQL, which cannot store it; a lone surrogate cannot be encoded as UTF-8.
const NUL = "Null characters are not allowed.";
const SURROGATE = /\p{Cs}/u;

// C0/C1 controls (tab, CR, LF, …), the line and paragraph separators, and the bidi embeddings,
// overrides and isolates that make a line display in another order than it reads: none belongs in
// a name, and each lets one field pose as more than one line of the email it is greeted in.
const CONTROL = /[\p{Cc}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069]/u;
const CONTROL_MESSAGE = "Enter a single line of text without control characters.";

const USERNAME = /^[\p{L}\p{N}_.@+-]+$/u;
const USERNAME_MESSAGE =
  "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";

/** NUL or lone surrogates: DRF's message for any text field. */
function textProblem(value: string): string | undefined {
  if (value.includes("\0")) return NUL;
  const surrogate = SURROGATE.exec(value)?.[0];
  if (surrogate !== undefined) {
    const code = surrogate.charCodeAt(0).toString(16).toUpperCase();
    return `Surrogate characters are not allowed: U+${code}.`;
  }
  return undefined;
}

/** first_name / last_name: one line of text, whatever its script (Django's AbstractUser limits its length). */
export function nameProblem(value: string): string | undefined {
  return textProblem(value) ?? (CONTROL.test(value) ? CONTROL_MESSAGE : undefined);
}

/**
 * Django's `AbstractBaseUser.normalize_username`: NFKC, so that fullwidth `ｒｏｏｔ` or a Kelvin
 * sign `K` cannot sit beside `root` or `K` as another account. Every username that is stored or
 * compared goes through it first; comparison after it is exact (case-sensitive), as Django's
 * unique column is.
 */
export function normalizeUsername(value: string): string {
  return value.normalize("NFKC");
}

/** Django's UnicodeUsernameValidator on a normalized username, and its length after NFKC. */
export function usernameFormatProblem(username: string): string | undefined {
  const problem = textProblem(username);
  if (problem) return problem;
  if (!USERNAME.test(username)) return USERNAME_MESSAGE;
  // NFKC can lengthen a string (a ligature becomes several letters): the limit is on what is kept.
  if ([...username].length > MAX_LENGTH) {
    return `Ensure this field has no more than ${MAX_LENGTH} characters.`;
  }
  return undefined;
}
