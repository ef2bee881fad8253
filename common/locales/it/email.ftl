# Le e-mail che riceve chi prenota, nella lingua in cui ha prenotato.
# $seats è un messaggio "seats" (es. "2 posti"); $when una data con l'ora (vedi dates.ftl).

email-hello = Buongiorno,
email-hello-name = Buongiorno { $name },
email-signature = AzioneLab
email-open-address = Oppure apri questo indirizzo:

## E-mail di conferma
email-confirm-subject = Conferma la tua prenotazione: { $title }
email-confirm-intro = grazie per aver prenotato { $seats } per «{ $title }», { $when } ({ $room }).
email-confirm-pending = I posti non sono ancora riservati. Conferma la prenotazione entro { $valid_for } aprendo questo link e premendo il pulsante:
email-confirm-button = Conferma la prenotazione
email-confirm-ignore = Se non hai chiesto tu questa prenotazione, ignora questo messaggio: non verrà riservato nulla.

duration-moment = un attimo
duration-minutes = { $count ->
    [one] 1 minuto
   *[other] { $count } minuti
}
duration-hours = { $count ->
    [one] 1 ora
   *[other] { $count } ore
}
duration-days = { $count ->
    [one] 1 giorno
   *[other] { $count } giorni
}

## E-mail con il biglietto
email-ticket-subject = Il tuo biglietto: { $title }
email-ticket-intro = la tua prenotazione è confermata: { $seats } per «{ $title }», { $when } ({ $room }).
email-ticket-show-qr = Mostra questo codice QR all'ingresso, sul telefono o stampato:
email-ticket-attached = Il tuo biglietto è il codice QR allegato a questa e-mail (ticket.png). Mostralo all'ingresso, sul telefono o stampato.
email-ticket-qr-alt = Il codice QR del tuo biglietto
email-ticket-fallback = Se l'immagine non si vede, apri il biglietto all'ingresso:
email-ticket-open = Apri il mio biglietto
email-ticket-code = Oppure detta al personale all'ingresso il codice del biglietto:
email-ticket-cancel = Non puoi venire? Libera i posti, così potrà usarli qualcun altro:
email-ticket-cancel-link = Annulla la prenotazione

## Lista d'attesa: conferma del posto
email-waitlist-subject = Conferma il tuo posto in lista d'attesa: { $title }
email-waitlist-intro = hai chiesto di entrare in lista d'attesa per { $seats } per «{ $title }», { $when } ({ $room }).
email-waitlist-pending = Non sei ancora in lista. Conferma entro { $valid_for } aprendo questo link e premendo il pulsante:
email-waitlist-confirm-button = Mettiti in lista d'attesa
email-waitlist-how = Quando si liberano posti li offriamo per e-mail nell'ordine di iscrizione; un'offerta tiene i posti per un tempo limitato.
email-waitlist-leave = Hai cambiato idea? Esci dalla lista d'attesa:
email-waitlist-leave-link = Esci dalla lista d'attesa
email-waitlist-ignore = Se non l'hai chiesto tu, ignora questo messaggio: non succederà nulla.

## Lista d'attesa: un'offerta
email-offer-subject = Ci sono posti liberi per te: { $title }
email-offer-intro = buone notizie: { $seats } per «{ $title }», { $when } ({ $room }), sono liberi per te.
email-offer-until = Li teniamo per te fino a { $until }.
email-offer-claim = Per prenderli, apri questo link e premi il pulsante:
email-offer-claim-button = Prendi i posti
email-offer-decline = Non puoi più venire? Rifiuta, e i posti passano subito alla persona successiva in lista:
email-offer-decline-link = Rifiuta l'offerta

## Promemoria
email-reminder-subject = Promemoria: { $title }
email-reminder-intro = ti ricordiamo che «{ $title }» è in programma { $when } ({ $room }), con { $seats } riservati per te.
email-reminder-release = NON PUOI VENIRE? LIBERA I TUOI POSTI così potrà usarli qualcuno in lista d'attesa:
email-reminder-release-button = Non puoi venire? Libera i posti
email-reminder-calendar = Il file event.ics allegato aggiunge lo spettacolo al tuo calendario.
