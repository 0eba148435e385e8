# collabd's words in English: every message, the fallback of every other
# language. Placeables ({ $name }) are the values a template passes.

greeting = Hello { $name },
ignore-unexpected = If you did not expect this email, ignore it.
or-open = Or open this address:

invitation-subject = { $inviter } invited you to { $organization } on { $product }
invitation-body = { $inviter } invited you to join { $organization } as { $role }.
invitation-open = Open this link to accept or decline:
invitation-valid = The invitation is valid until { $expires } (UTC). If you did not expect it, ignore this email.
invitation-button = View the invitation

account-created-subject = Your { $product } account was created to join { $organization }
account-created-body = You accepted an invitation to { $organization }, so an account was created for { $email }.
account-created-password = Sign in with this address and the password you chose.
account-created-no-password = Your account has no password yet. To sign in again later, ask for a sign-in link (user/requestloginlink) or set a password through a reset (user/requestpasswordreset), each with this address.
account-created-not-you = If this was not you, contact the organization that invited you.

verify-email-subject = Confirm your email address for { $product }
verify-email-body = Confirm that { $email } is your address by opening this link:
verify-email-not-you = If you did not sign up, ignore this email.
verify-email-button = Confirm my address

confirm-address-subject = Confirm your new email address for { $product }
confirm-address-body = You asked to make { $email } the address of your { $product } account. Confirm it by opening this link:
confirm-address-after = Until you do, your old address stays in force. If you did not ask for this, ignore this email.
confirm-address-button = Confirm my new address

address-notice-subject = The address of your { $product } account is being changed
address-notice-body = Someone signed in to your account asked to change its address from { $email } to { $new_email }. The change takes effect when the new address is confirmed.
address-notice-after = If this was not you, sign in, change your password, and turn on two-factor.

reset-subject = Reset your { $product } password
reset-body = Someone asked to reset the password of the { $product } account of { $email }. To choose a new password, open this link within { $minutes ->
        [one] { $minutes } minute
       *[other] { $minutes } minutes
    }:
reset-after = The link works once. If you did not ask for it, ignore this email: your password stays as it is.
reset-button = Choose a new password

signin-subject = Your { $product } sign-in link
signin-body = To sign in to { $product } as { $email }, open this link within { $minutes ->
        [one] { $minutes } minute
       *[other] { $minutes } minutes
    }:
signin-after = The link works once. If you did not ask for it, ignore this email.
signin-button = Sign in

membership-ended-subject = Your membership in { $organization } has ended
membership-ended-body = Your membership in { $organization } on { $product } was given until now, and has ended. Your { $product } account stays; ask the organization to invite you again if you still need access.

organization-deleted-subject = { $organization } was deleted on { $product }
organization-deleted-body = { $by } deleted the organization { $organization }, with its projects, members and invites. Your membership in it has ended; your { $product } account stays.
organization-deleted-after = If you did not expect this, ask { $by }.

verify-domain-subject = Verify { $domain } for { $organization } on { $product }
verify-domain-greeting = Hello there,
verify-domain-body = { $by } claims the email domain { $domain } for the organization { $organization } on { $product }. Once verified, everyone who signs in with a verified address at { $domain } joins { $organization } as { $role }. If you manage { $domain }, verify it by opening this link within { $hours ->
        [one] { $hours } hour
       *[other] { $hours } hours
    }:
verify-domain-after = If you do not know about this, ignore this email: nothing happens unless the link is used.
verify-domain-button = Verify the domain

## Pages: what the links open. A sentence with {name}s in braces (not
## { $name }) is filled in by the page's script with the API's answer.

page-failed = The request did not go through; check your connection and try again.
page-error-otp_required = This account has two-factor on: enter the code from your authenticator app, or a recovery code.
page-error-otp_invalid = That code is not valid: enter the current code from your authenticator app, or an unused recovery code.
page-error-expired = This link has expired or a newer one replaced it; ask for a new one.
page-error-used = This link was used already.
page-error-revoked = This invitation was withdrawn.
page-error-declined = This invitation was declined.
page-error-accepted = This invitation was accepted already.
page-error-already_member = You are a member of this organization already.
page-error-rate_limited = Too many attempts; wait a moment and try again.
page-error-validation_failed = What you entered cannot be taken ({ $detail }); check it and try again.

invite-page-title = Invitation
invite-page-body = { $inviter } invited { $email } to join { $organization } as { $role }.
invite-page-valid = The invitation is valid until { $expires } (UTC).
invite-page-newcomer = If you have no account yet, accepting makes one for this address. Name and password are optional.
invite-page-name = Name
invite-page-password = Password
invite-page-code = Code from your authenticator app, if your account has two-factor on
invite-page-accept = Accept
invite-page-decline = Decline
invite-page-declined = You declined the invitation. Nothing else happens; the organization sees it declined.
invite-page-joined = You joined { $organization } as { $role } (collaborator id { $collaborator }). Next: open the organization with customer/details?organizationid={ $organizationid }.
invite-page-joined-signed-in = You joined { $organization } as { $role } (collaborator id { $collaborator }). You are signed in as { $email } until { $expires }: the session token is below. Next: open the organization with customer/details?organizationid={ $organizationid }. To sign in again later, use your password, or ask for a sign-in link (user/requestloginlink) or a password reset (user/requestpasswordreset) if you chose none.

confirm-page-title = Confirm your address
confirm-page-change = This link makes { $email } the address of your { $product } account, which is now { $current }. You will then sign in with the new address.
confirm-page-first = This link confirms that { $email } is your address, the one your { $product } account signs in with.
confirm-page-button = Confirm my address
confirm-page-done = { $email } is confirmed as the address of your account. Next: sign in with it (user/login, or ask for a sign-in link with user/requestloginlink).

reset-page-title = Choose a new password
reset-page-body = This link sets a new password for the { $product } account { $email }. Every session of the account ends; its API keys stay.
reset-page-password = New password (8 to 128 characters)
reset-page-button = Set the new password
reset-page-done = Your new password is set and every earlier session has ended. Next: sign in as { $email } with the new password (user/login).

signin-page-title = Sign in
signin-page-body = This link signs you in to { $product } as { $email }, once.
signin-page-code = Code from your authenticator app, or a recovery code
signin-page-button = Sign in
signin-page-done = You are signed in as { $email } until { $expires }. Next: use the session token below as Authorization: Bearer <token>; to sign in with a password next time, set one with user/edit or a password reset.

domain-page-title = Verify a domain
domain-page-body = The organization { $organization } on { $product } claims the email domain { $domain }. Once you verify it, everyone who signs in to { $product } with a verified address at { $domain } joins { $organization } as { $role } (unless they were removed from it or left it).
domain-page-only = Verify only if you manage { $domain } and expect this.
domain-page-button = Verify { $domain }
domain-page-done = { $domain } is verified. Accounts at it join as they next sign in; nothing more to do here.

## A link whose page cannot go on; $kind is invite, confirm, reset, signin
## or domain.

link-refused-malformed = This link is not valid.
link-refused-unknown = { $kind ->
        [invite] This invitation does not exist.
        [confirm] This confirmation link does not exist.
        [reset] This password-reset link does not exist.
        [signin] This sign-in link does not exist.
        [domain] This verification link does not exist.
       *[other] This link does not exist.
    }
link-refused-too_many = Too many unknown links from your address; try again in { $seconds ->
        [one] { $seconds } second
       *[other] { $seconds } seconds
    }.
link-refused-unavailable = Please try again later.
link-refused-expired = { $kind ->
        [invite] This invitation has expired. Ask the organization for a new one.
        [domain] This verification link has expired; claim the domain again for a new one.
       *[other] This link has expired or a newer one replaced it; ask for a new one.
    }
link-refused-revoked = This invitation was withdrawn.
link-refused-declined = This invitation was declined.
link-refused-accepted = This invitation was accepted already.
link-refused-used = { $kind ->
        [domain] The domain is verified already; this link was used.
       *[other] This link was used already; ask for a new one.
    }

## Signing in through an organization's identity provider.

sso-page-title = Sign in with your organization
sso-page-signed-in = You are signed in as { $name } ({ $email }) through { $organization }'s identity provider.
sso-page-joined = You joined { $organization } as { $role }.
sso-page-member = You are a member of { $organization } as { $role }.
sso-page-account = Account
sso-page-valid-until = Session valid until (UTC)
sso-page-organization = Organization id
sso-page-session = Your session token:
sso-page-next = Next: call the API with Authorization: Bearer <token>, such as customer/details?organizationid={ $organizationid }. Keep the token secret; user/logout ends it. To sign in again later, open this organization's sign-in link again.

sso-begin-again = Begin again from your organization's sign-in link.
sso-refused-no_sso = This organization does not sign in through an identity provider.
sso-refused-unknown = This sign-in is unknown. { sso-begin-again }
sso-refused-used = This sign-in was already finished. { sso-begin-again }
sso-refused-expired = This sign-in began over 10 minutes ago. { sso-begin-again }
sso-refused-other_browser = This sign-in was begun in another browser, and only that browser can finish it. { sso-begin-again }
sso-refused-changed = The organization's sign-in connection changed during this sign-in. { sso-begin-again }
sso-refused-mix_up = The answer came from another identity provider than this organization's. { sso-begin-again }
sso-refused-unnamed = The answer does not name its identity provider. { sso-begin-again }
sso-refused-provider_refused = Your identity provider refused the sign-in: { $detail }
sso-refused-no_code = Your identity provider sent no authorization code. { sso-begin-again }
sso-refused-exchange_failed = The sign-in could not be finished: { $detail }
sso-refused-token_invalid = The identity provider's answer does not verify: { $detail }
sso-refused-no_verified_email = Your identity provider gave no verified email address, which is needed to find or make your account. Ask its administrator to release a verified email.
sso-refused-not_added = { $email } is no longer a member of { $organization } (removed, left or ended): signing in does not add it again; ask an owner for an invite.
sso-refused-not_linked = An account with your address exists, and your identity provider may not vouch for it: the address is not at one of the organization's verified domains. Sign in with your password, or ask an owner to verify the domain.
sso-refused-unavailable = The sign-in cannot go on now: your organization's identity provider cannot be reached. Begin again in a moment.
sso-refused-internal = Something went wrong; please begin again in a moment.
sso-refused-other = The sign-in cannot go on: { $detail }

## A person a text names ($inviter, $by): with their address, or without it
## when they never confirmed it.

person = { $name } ({ $email })
person-unconfirmed = { $name } (address not confirmed)
