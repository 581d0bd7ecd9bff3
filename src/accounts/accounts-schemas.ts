import { Type } from "typebox";

// Field limits are the original model's (Django's AbstractUser); passwords are capped at 128 so a
// megabyte "password" never reaches argon2.
const Password = Type.String({ minLength: 1, maxLength: 128 });
const Name = Type.String({ maxLength: 150 });
const Username = Type.String({ minLength: 1, maxLength: 150 });
const Email = Type.String({ format: "email", maxLength: 254 });

export const User = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    email: Type.String(),
    username: Type.String(),
    first_name: Type.String(),
    last_name: Type.String(),
    subscription_status: Type.String({
      description: 'The current subscription\'s status, or "inactive".',
    }),
    email_verified: Type.Boolean({
      description: "Whether the user has followed a verification link sent to `email`.",
    }),
    created_at: Type.String({ format: "date-time" }),
  },
  { description: "A user account." },
);

export const Tokens = Type.Object({
  access: Type.String({ description: "Access token (Bearer), short-lived." }),
  refresh: Type.String({ description: "Refresh token; single use: every refresh rotates it." }),
});

export const RegisterBody = Type.Object(
  {
    email: Email,
    username: Username,
    first_name: Type.Optional(Name),
    last_name: Type.Optional(Name),
    password: Password,
    password_confirm: Password,
  },
  {
    examples: [
      {
        email: "ada@example.com",
        username: "ada",
        first_name: "Ada",
        last_name: "Lovelace",
        password: "correct-Horse-battery-9",
        password_confirm: "correct-Horse-battery-9",
      },
    ],
  },
);

export const LoginBody = Type.Object(
  { email: Email, password: Password },
  { examples: [{ email: "ada@example.com", password: "correct-Horse-battery-9" }] },
);

export const AuthResult = Type.Object({
  message: Type.String(),
  user: User,
  tokens: Tokens,
});

export const RefreshBody = Type.Object({ refresh: Type.String() });

// Optional so that a missing token gets the original view's message, not a field error.
export const LogoutBody = Type.Object({ refresh: Type.Optional(Type.String()) });

export const ProfilePatchBody = Type.Object({
  username: Type.Optional(Username),
  first_name: Type.Optional(Name),
  last_name: Type.Optional(Name),
});

export const ProfilePutBody = Type.Object({
  username: Username,
  first_name: Type.Optional(Name),
  last_name: Type.Optional(Name),
});

export const ChangePasswordBody = Type.Object({
  old_password: Password,
  new_password: Password,
  new_password_confirm: Password,
});

export const Message = Type.Object({ message: Type.String() });

export const ChangePasswordResult = Type.Object({
  message: Type.String(),
  tokens: Type.Optional(
    Type.Object(Tokens.properties, {
      description:
        "A fresh pair for this client: every other refresh token of the user was revoked.",
    }),
  ),
});

// The single-use token of an emailed link (account-tokens.ts): 32 random bytes, base64url.
const AccountToken = Type.String({
  minLength: 1,
  maxLength: 200,
  description: "The `token` query parameter of the emailed link.",
});

export const VerifyEmailBody = Type.Object({ token: AccountToken });

export const PasswordResetBody = Type.Object(
  { email: Email },
  { examples: [{ email: "ada@example.com" }] },
);

export const PasswordResetConfirmBody = Type.Object({
  token: AccountToken,
  new_password: Password,
  new_password_confirm: Password,
});

export const DeleteAccountBody = Type.Object(
  { password: Password },
  { examples: [{ password: "correct-Horse-battery-9" }] },
);

export const ChangeEmailBody = Type.Object(
  { new_email: Email, password: Password },
  { examples: [{ new_email: "ada@new.example.com", password: "correct-Horse-battery-9" }] },
);

export const ChangeEmailConfirmBody = Type.Object({ token: AccountToken });

export const ChangeEmailConfirmed = Type.Object({
  message: Type.String(),
  email: Type.String({ description: "The account's address from now on (verified)." }),
});
