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
