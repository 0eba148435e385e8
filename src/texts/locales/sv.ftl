# collabd på svenska. Ett meddelande som saknas här visas på engelska.

greeting = Hej { $name },
ignore-unexpected = Om du inte väntade dig det här mejlet kan du bortse från det.
or-open = Eller öppna den här adressen:

invitation-subject = { $inviter } har bjudit in dig till { $organization } på { $product }
invitation-body = { $inviter } har bjudit in dig att gå med i { $organization } som { $role }.
invitation-open = Öppna den här länken för att tacka ja eller nej:
invitation-valid = Inbjudan gäller till { $expires } (UTC). Om du inte väntade dig den kan du bortse från det här mejlet.
invitation-button = Visa inbjudan

account-created-subject = Ditt { $product }-konto skapades för att gå med i { $organization }
account-created-body = Du tackade ja till en inbjudan till { $organization }, så ett konto skapades för { $email }.
account-created-password = Logga in med den här adressen och lösenordet du valde.
account-created-no-password = Ditt konto har inget lösenord än. För att logga in igen senare kan du be om en inloggningslänk (user/requestloginlink) eller välja ett lösenord genom en återställning (user/requestpasswordreset), båda med den här adressen.
account-created-not-you = Om det inte var du, kontakta organisationen som bjöd in dig.

verify-email-subject = Bekräfta din e-postadress för { $product }
verify-email-body = Bekräfta att { $email } är din adress genom att öppna den här länken:
verify-email-not-you = Om du inte har registrerat dig kan du bortse från det här mejlet.
verify-email-button = Bekräfta min adress

confirm-address-subject = Bekräfta din nya e-postadress för { $product }
confirm-address-body = Du bad om att göra { $email } till adressen för ditt { $product }-konto. Bekräfta den genom att öppna den här länken:
confirm-address-after = Tills du gör det gäller din gamla adress. Om du inte bad om detta kan du bortse från det här mejlet.
confirm-address-button = Bekräfta min nya adress

address-notice-subject = Adressen för ditt { $product }-konto håller på att ändras
address-notice-body = Någon som var inloggad på ditt konto bad om att ändra dess adress från { $email } till { $new_email }. Ändringen gäller när den nya adressen har bekräftats.
address-notice-after = Om det inte var du: logga in, byt lösenord och slå på tvåstegsverifiering.

reset-subject = Återställ ditt lösenord för { $product }
reset-body = Någon bad om att återställa lösenordet för { $product }-kontot för { $email }. Öppna den här länken inom { $minutes ->
        [one] { $minutes } minut
       *[other] { $minutes } minuter
    } för att välja ett nytt lösenord:
reset-after = Länken fungerar en gång. Om du inte bad om den kan du bortse från det här mejlet: ditt lösenord är kvar som det är.
reset-button = Välj ett nytt lösenord

signin-subject = Din inloggningslänk till { $product }
signin-body = Öppna den här länken inom { $minutes ->
        [one] { $minutes } minut
       *[other] { $minutes } minuter
    } för att logga in på { $product } som { $email }:
signin-after = Länken fungerar en gång. Om du inte bad om den kan du bortse från det här mejlet.
signin-button = Logga in

membership-ended-subject = Ditt medlemskap i { $organization } har upphört
membership-ended-body = Ditt medlemskap i { $organization } på { $product } gällde till nu och har upphört. Ditt { $product }-konto finns kvar; be organisationen att bjuda in dig igen om du fortfarande behöver åtkomst.

organization-deleted-subject = { $organization } har tagits bort på { $product }
organization-deleted-body = { $by } tog bort organisationen { $organization } med dess projekt, medlemmar och inbjudningar. Ditt medlemskap i den har upphört; ditt { $product }-konto finns kvar.
organization-deleted-after = Om du inte väntade dig detta, fråga { $by }.

verify-domain-subject = Verifiera { $domain } för { $organization } på { $product }
verify-domain-greeting = Hej,
verify-domain-body = { $by } gör anspråk på e-postdomänen { $domain } för organisationen { $organization } på { $product }. När den är verifierad går alla som loggar in med en verifierad adress på { $domain } med i { $organization } som { $role }. Om du ansvarar för { $domain }, verifiera den genom att öppna den här länken inom { $hours ->
        [one] { $hours } timme
       *[other] { $hours } timmar
    }:
verify-domain-after = Om du inte känner till detta kan du bortse från det här mejlet: inget händer om länken inte används.
verify-domain-button = Verifiera domänen

## Sidor: det länkarna öppnar.

page-failed = Förfrågan gick inte fram; kontrollera din anslutning och försök igen.
page-error-otp_required = Kontot har tvåstegsverifiering: ange koden från din autentiseringsapp, eller en återställningskod.
page-error-otp_invalid = Koden är inte giltig: ange den aktuella koden från din autentiseringsapp, eller en oanvänd återställningskod.
page-error-expired = Länken har gått ut eller ersatts av en nyare; be om en ny.
page-error-used = Länken har redan använts.
page-error-revoked = Den här inbjudan har dragits tillbaka.
page-error-declined = Den här inbjudan har avböjts.
page-error-accepted = Den här inbjudan har redan accepterats.
page-error-already_member = Du är redan medlem i den här organisationen.
page-error-rate_limited = För många försök; vänta en stund och försök igen.
page-error-validation_failed = Det du angav kan inte tas emot ({ $detail }); kontrollera det och försök igen.

invite-page-title = Inbjudan
invite-page-body = { $inviter } har bjudit in { $email } att gå med i { $organization } som { $role }.
invite-page-valid = Inbjudan gäller till { $expires } (UTC).
invite-page-newcomer = Om du inte har något konto än skapas ett för den här adressen när du tackar ja. Namn och lösenord är frivilliga.
invite-page-name = Namn
invite-page-password = Lösenord
invite-page-code = Kod från din autentiseringsapp, om ditt konto har tvåstegsverifiering
invite-page-accept = Tacka ja
invite-page-decline = Tacka nej
invite-page-declined = Du har tackat nej till inbjudan. Inget mer händer; organisationen ser att den avböjts.
invite-page-joined = Du har gått med i { $organization } som { $role } (medarbetar-id { $collaborator }). Nästa steg: öppna organisationen med customer/details?organizationid={ $organizationid }.
invite-page-joined-signed-in = Du har gått med i { $organization } som { $role } (medarbetar-id { $collaborator }). Du är inloggad som { $email } till { $expires }: sessionstoken står nedan. Nästa steg: öppna organisationen med customer/details?organizationid={ $organizationid }. För att logga in senare använder du ditt lösenord, eller ber om en inloggningslänk (user/requestloginlink) eller en lösenordsåterställning (user/requestpasswordreset) om du inte valde något.

confirm-page-title = Bekräfta din adress
confirm-page-change = Den här länken gör { $email } till adressen för ditt konto på { $product }, som nu är { $current }. Därefter loggar du in med den nya adressen.
confirm-page-first = Den här länken bekräftar att { $email } är din adress, den som ditt konto på { $product } loggar in med.
confirm-page-button = Bekräfta min adress
confirm-page-done = { $email } är bekräftad som adressen för ditt konto. Nästa steg: logga in med den (user/login, eller be om en inloggningslänk med user/requestloginlink).

reset-page-title = Välj ett nytt lösenord
reset-page-body = Den här länken sätter ett nytt lösenord för kontot { $email } på { $product }. Alla kontots sessioner avslutas; dess API-nycklar finns kvar.
reset-page-password = Nytt lösenord (8 till 128 tecken)
reset-page-button = Spara det nya lösenordet
reset-page-done = Ditt nya lösenord är sparat och alla tidigare sessioner har avslutats. Nästa steg: logga in som { $email } med det nya lösenordet (user/login).

signin-page-title = Logga in
signin-page-body = Den här länken loggar in dig på { $product } som { $email }, en gång.
signin-page-code = Kod från din autentiseringsapp, eller en återställningskod
signin-page-button = Logga in
signin-page-done = Du är inloggad som { $email } till { $expires }. Nästa steg: använd sessionstoken nedan som Authorization: Bearer <token>; för att logga in med lösenord nästa gång, välj ett med user/edit eller en lösenordsåterställning.

domain-page-title = Verifiera en domän
domain-page-body = Organisationen { $organization } på { $product } gör anspråk på e-postdomänen { $domain }. När du har verifierat den går alla som loggar in på { $product } med en verifierad adress på { $domain } med i { $organization } som { $role } (om de inte har tagits bort därifrån eller lämnat den).
domain-page-only = Verifiera bara om du ansvarar för { $domain } och väntar dig det här.
domain-page-button = Verifiera { $domain }
domain-page-done = { $domain } är verifierad. Konton på den går med nästa gång de loggar in; du behöver inte göra något mer här.

link-refused-malformed = Den här länken är inte giltig.
link-refused-unknown = { $kind ->
        [invite] Den här inbjudan finns inte.
        [confirm] Den här bekräftelselänken finns inte.
        [reset] Den här länken för lösenordsåterställning finns inte.
        [signin] Den här inloggningslänken finns inte.
        [domain] Den här verifieringslänken finns inte.
       *[other] Den här länken finns inte.
    }
link-refused-too_many = För många okända länkar från din adress; försök igen om { $seconds ->
        [one] { $seconds } sekund
       *[other] { $seconds } sekunder
    }.
link-refused-unavailable = Försök igen om en stund.
link-refused-expired = { $kind ->
        [invite] Den här inbjudan har gått ut. Be organisationen om en ny.
        [domain] Den här verifieringslänken har gått ut; gör anspråk på domänen igen för att få en ny.
       *[other] Den här länken har gått ut eller ersatts av en nyare; be om en ny.
    }
link-refused-revoked = Den här inbjudan har dragits tillbaka.
link-refused-declined = Den här inbjudan har avböjts.
link-refused-accepted = Den här inbjudan har redan accepterats.
link-refused-used = { $kind ->
        [domain] Domänen är redan verifierad; den här länken har använts.
       *[other] Den här länken har redan använts; be om en ny.
    }

sso-page-title = Logga in med din organisation
sso-page-signed-in = Du är inloggad som { $name } ({ $email }) genom identitetsleverantören för { $organization }.
sso-page-joined = Du har gått med i { $organization } som { $role }.
sso-page-member = Du är medlem i { $organization } som { $role }.
sso-page-account = Konto
sso-page-valid-until = Sessionen gäller till (UTC)
sso-page-organization = Organisations-id
sso-page-session = Din sessionstoken:
sso-page-next = Nästa steg: anropa API:et med Authorization: Bearer <token>, till exempel customer/details?organizationid={ $organizationid }. Håll sessionstoken hemlig; user/logout avslutar den. För att logga in senare öppnar du organisationens inloggningslänk igen.

sso-begin-again = Börja om från din organisations inloggningslänk.
sso-refused-no_sso = Den här organisationen loggar inte in genom en identitetsleverantör.
sso-refused-unknown = Den här inloggningen är okänd. { sso-begin-again }
sso-refused-used = Den här inloggningen är redan slutförd. { sso-begin-again }
sso-refused-expired = Den här inloggningen påbörjades för mer än 10 minuter sedan. { sso-begin-again }
sso-refused-other_browser = Den här inloggningen påbörjades i en annan webbläsare, och bara den kan slutföra den. { sso-begin-again }
sso-refused-changed = Organisationens inloggningskoppling ändrades under inloggningen. { sso-begin-again }
sso-refused-mix_up = Svaret kom från en annan identitetsleverantör än organisationens. { sso-begin-again }
sso-refused-unnamed = Svaret anger inte vilken identitetsleverantör det kommer från. { sso-begin-again }
sso-refused-provider_refused = Din identitetsleverantör nekade inloggningen: { $detail }
sso-refused-no_code = Din identitetsleverantör skickade ingen auktoriseringskod. { sso-begin-again }
sso-refused-exchange_failed = Inloggningen kunde inte slutföras: { $detail }
sso-refused-token_invalid = Identitetsleverantörens svar kunde inte verifieras: { $detail }
sso-refused-no_verified_email = Din identitetsleverantör gav ingen verifierad e-postadress, och en sådan behövs för att hitta eller skapa ditt konto. Be dess administratör att lämna ut en verifierad e-postadress.
sso-refused-not_added = { $email } är inte längre medlem i { $organization } (borttagen, lämnade eller medlemskapet upphörde): att logga in lägger inte till kontot igen; be en ägare om en inbjudan.
sso-refused-not_linked = Det finns redan ett konto med din adress, och din identitetsleverantör får inte gå i god för det: adressen ligger inte på någon av organisationens verifierade domäner. Logga in med ditt lösenord, eller be en ägare att verifiera domänen.
sso-refused-unavailable = Inloggningen kan inte fortsätta just nu: din organisations identitetsleverantör går inte att nå. Börja om om en stund.
sso-refused-internal = Något gick fel; börja om om en stund.
sso-refused-other = Inloggningen kan inte fortsätta: { $detail }

person = { $name } ({ $email })
person-unconfirmed = { $name } (adressen är inte bekräftad)
