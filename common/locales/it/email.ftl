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
