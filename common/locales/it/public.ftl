# Il sito pubblico: elenco e pagina degli spettacoli, modulo di prenotazione, pagine di
# conferma e annullamento, la pagina del biglietto e le pagine di errore.

site-name = AzioneLab
language-switch = Lingua
all-performances = Tutti gli spettacoli

## Conteggi. $count è un numero.
seats = { $count ->
    [one] 1 posto
   *[other] { $count } posti
}
seats-available = { $count ->
    [0] nessun posto disponibile
    [one] 1 posto disponibile
   *[other] { $count } posti disponibili
}
people = { $count ->
    [one] 1 persona
   *[other] { $count } persone
}

## Stato delle prenotazioni di uno spettacolo
status-scheduled = Prenotazioni aperte a breve
status-open = Prenotazioni aperte
status-closed = Prenotazioni chiuse
status-cancelled = Annullato

## L'elenco degli spettacoli
index-title = Spettacoli
index-empty = Al momento non ci sono spettacoli in programma. Torna a trovarci presto.

## Il modulo di prenotazione
booking-heading = Prenota posti gratuiti
booking-fix-fields = Correggi i campi segnalati qui sotto.
booking-unknown-fields = Questo modulo non ha il campo { $names }.
field-name = Nome
field-email = E-mail
field-email-hint = A questo indirizzo mandiamo il link per confermare la prenotazione.
field-phone = Telefono (facoltativo)
field-party-size = Posti
field-party-size-hint = Al massimo { $max } per prenotazione.
field-notes = Note (facoltative)
booking-submit = Prenota

error-name-required = Inserisci il tuo nome.
error-name-too-long = Accorcia il nome a non più di 100 caratteri.
error-name-control = Il nome contiene caratteri che non possiamo salvare.
error-email-required = Inserisci il tuo indirizzo e-mail: ti mandiamo lì il link di conferma.
error-email-invalid = Inserisci un indirizzo e-mail completo, per esempio nome@example.org.
error-phone-invalid = Il numero di telefono può avere al massimo 32 cifre, spazi e + - ( ).
error-notes-too-long = Accorcia le note a non più di 1000 caratteri.
error-notes-control = Le note contengono caratteri che non possiamo salvare.
error-party-size-required = Indica quanti posti ti servono.
error-party-size-invalid = Indica il numero di posti con un numero intero.
error-party-size-range = Scegli da 1 a { $max } posti.
error-field-invalid = Controlla questo campo.

## Dopo la prenotazione
booking-sent-title = Controlla la tua e-mail
booking-sent-text = Ti abbiamo mandato un link per confermare la prenotazione di { $seats } per «{ $title }», { $when }. I posti sono tuoi solo dopo la conferma.
booking-sent-nothing = Non è arrivato nulla dopo qualche minuto? Guarda nella cartella dello spam. Se l'indirizzo era sbagliato, prenota di nuovo con quello giusto.

## La conferma (la pagina del link nell'e-mail)
confirm-title = Conferma la prenotazione
confirm-text = Premi il pulsante per confermare la prenotazione. Poi ti mandiamo il biglietto per e-mail.
confirm-what = { $seats } per «{ $title }», { $when } ({ $room }).
confirm-button = Conferma la prenotazione
confirmed-title = Prenotazione confermata
confirmed-text = I tuoi posti sono riservati. Il biglietto con il codice QR ti arriva per e-mail.

## L'annullamento (il link nell'e-mail del biglietto)
cancel-title = Annulla la prenotazione
cancel-text = Vuoi annullare questa prenotazione?
cancel-consequence = I posti tornano disponibili per altri e il biglietto smette di funzionare. Non si può tornare indietro.
cancel-button = Sì, annulla la prenotazione
cancel-keep = Tieni la prenotazione
cancelled-title = Prenotazione annullata
cancelled-text = I posti sono di nuovo liberi. Grazie di avercelo fatto sapere.

## La pagina del biglietto (/t/…)
ticket-title = Biglietto
ticket-for = Biglietto per { $people }.
ticket-valid = Mostra questo biglietto all'ingresso.
ticket-used = Questo biglietto è già stato usato.
ticket-not-confirmed = Questa prenotazione non è confermata.
ticket-not-valid = Questo biglietto non è valido.
ticket-check-in = Registra l'ingresso
ticket-door-page = Pagina dell'ingresso
ticket-qr-alt = Il codice QR del tuo biglietto
ticket-code-hint = Se il codice QR non si legge, il personale all'ingresso può digitare questo codice:
checkin-done = Ingresso registrato: { $people }.
checkin-already = Ingresso già registrato alle { $time }.
checkin-unknown = Biglietto sconosciuto.
checkin-cancelled = Biglietto annullato: questa prenotazione non è più valida.
checkin-wrong-performance = Non è per questo spettacolo.
checkin-outside-window = Gli ingressi per questo spettacolo non sono aperti ora.

## Pagine di errore: error-CODICE-title e error-CODICE-text per il codice di errore CODICE dell'API
error-internal-error-title = Qualcosa è andato storto
error-internal-error-text = Riprova tra un momento.
error-not-found-title = Pagina non trovata
error-not-found-text = A questo indirizzo non c'è nulla. Il link potrebbe essere incompleto o superato.
error-method-not-allowed-title = Questa pagina non può farlo
error-method-not-allowed-text = L'indirizzo è giusto, ma non per questo tipo di richiesta. Torna indietro e riprova dalla pagina.
error-invalid-token-title = Questo link non è valido
error-invalid-token-text = Il link potrebbe essere incompleto, o sostituito da uno più recente. Usa il link dell'ultima e-mail che hai ricevuto.
error-token-expired-title = Questo link è scaduto
error-token-expired-text = I link di conferma valgono per un tempo limitato. Prenota di nuovo.
error-unknown-ticket-title = Biglietto sconosciuto
error-unknown-ticket-text = Non esiste un biglietto con questo codice. Usa il link dell'ultima e-mail che hai ricevuto.
error-insufficient-capacity-title = Posti insufficienti
error-insufficient-capacity-text = Non restano abbastanza posti liberi per questa prenotazione. Prova con meno posti o con un altro spettacolo.
error-booking-closed-title = Prenotazioni chiuse
error-booking-closed-text = Questo spettacolo non si può prenotare ora.
error-not-valid-title = Già usato
error-not-valid-text = L'ingresso di questa prenotazione è già stato registrato, quindi non si può più annullare.
error-rate-limited-title = Troppi tentativi
error-rate-limited-text = Aspetta un minuto, poi riprova.
error-service-unavailable-title = Momentaneamente non disponibile
error-service-unavailable-text = In questo momento non raggiungiamo i nostri archivi. Riprova tra poco.
error-forbidden-title = Non consentito
error-forbidden-text = Il tuo account non può aprire questa pagina.
error-unauthenticated-title = Accedi
error-unauthenticated-text = Questa pagina è per lo staff. Accedi e riprova.
error-validation-failed-title = Controlla i dati inseriti
error-validation-failed-text = Qualcosa nel modulo non andava. Torna indietro e controlla i campi.

ticket-calendar = Aggiungi al mio calendario (.ics)
waitlist-heading = Mettiti in lista d'attesa
waitlist-full-text = Questo spettacolo è al completo. Mettiti in lista d'attesa: quando si liberano posti li offriamo per e-mail, nell'ordine di iscrizione.
waitlist-email-hint = A questo indirizzo inviamo un link per confermare il tuo posto in lista.
waitlist-submit = Mettiti in lista d'attesa

waitlist-sent-title = Controlla la tua e-mail
waitlist-sent-text = Ti abbiamo inviato un link per confermare il tuo posto in lista d'attesa. Sei in lista solo dopo la conferma.
waitlist-confirm-title = Mettiti in lista d'attesa
waitlist-confirm-text = Premi il pulsante per prendere il tuo posto in lista. Quando si liberano posti li offriamo per e-mail, nell'ordine di iscrizione.
waitlist-confirm-button = Mettiti in lista d'attesa
waitlist-leave-title = Esci dalla lista d'attesa
waitlist-leave-text = Premi il pulsante per uscire dalla lista d'attesa (o rifiutare un'offerta): i posti passano alla persona successiva.
waitlist-leave-button = Esci dalla lista d'attesa
waitlist-claim-title = Prendi i posti offerti
waitlist-claim-text = Premi il pulsante per confermare la prenotazione. Poi ti invieremo il biglietto per e-mail.
waitlist-claim-button = Prendi i posti
waitlist-waiting-title = Sei in lista d'attesa
waitlist-waiting-text = La tua posizione in lista: { $position }. Ti scriveremo quando si liberano posti.
waitlist-offered-title = Ci sono posti per te
waitlist-offered-text = Ti abbiamo offerto dei posti: guarda l'offerta che ti abbiamo inviato per e-mail.
waitlist-claimed-title = Prenotazione confermata
waitlist-claimed-text = I tuoi posti sono riservati. Il biglietto con il codice QR ti arriva per e-mail.
waitlist-left-title = Sei uscito dalla lista d'attesa
waitlist-left-text = Grazie di avercelo fatto sapere.
error-seats-available-title = Ci sono posti liberi
error-seats-available-text = Ora ci sono abbastanza posti liberi: prenotali dalla pagina dello spettacolo.
error-offer-expired-title = Questa offerta è scaduta
error-offer-expired-text = I posti erano riservati per un tempo limitato e sono passati alla persona successiva in lista.
