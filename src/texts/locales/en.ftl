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
