# The e-mails a visitor receives, in the language they booked in.
# $seats is a "seats" message (e.g. "2 seats"); $when a date and time (see dates.ftl).

email-hello = Hello,
email-hello-name = Hello { $name },
email-signature = AzioneLab
email-open-address = Or open this address:

## Confirmation e-mail
email-confirm-subject = Please confirm your booking: { $title }
email-confirm-intro = thank you for booking { $seats } for “{ $title }” on { $when } ({ $room }).
email-confirm-pending = Your seats are not reserved yet. Please confirm your booking within { $valid_for } by opening this link and pressing the button:
email-confirm-button = Confirm my booking
email-confirm-ignore = If you did not ask for this booking, ignore this message: nothing will be reserved.

duration-moment = a moment
duration-minutes = { $count ->
    [one] 1 minute
   *[other] { $count } minutes
}
duration-hours = { $count ->
    [one] 1 hour
   *[other] { $count } hours
}
duration-days = { $count ->
    [one] 1 day
   *[other] { $count } days
}

## Ticket e-mail
email-ticket-subject = Your ticket: { $title }
email-ticket-intro = your booking is confirmed: { $seats } for “{ $title }” on { $when } ({ $room }).
email-ticket-show-qr = Show this QR code at the door, on your phone or printed:
email-ticket-attached = Your ticket is the QR code attached to this e-mail (ticket.png). Show it at the door, on your phone or printed.
email-ticket-qr-alt = Your ticket's QR code
email-ticket-fallback = If the image does not show, open your ticket at the door:
email-ticket-open = Open my ticket
email-ticket-code = Or give door staff your ticket code:
email-ticket-cancel = Cannot come? Please give your seats back so someone else can use them:
email-ticket-cancel-link = Cancel my reservation

## Waiting list: confirming a place
email-waitlist-subject = Please confirm your place on the waiting list: { $title }
email-waitlist-intro = you asked to join the waiting list for { $seats } for “{ $title }” on { $when } ({ $room }).
email-waitlist-pending = You are not in line yet. Please confirm within { $valid_for } by opening this link and pressing the button:
email-waitlist-confirm-button = Join the waiting list
email-waitlist-how = When seats come free we offer them by e-mail in order of joining; an offer holds the seats for a limited time.
email-waitlist-leave = Changed your mind? Leave the waiting list:
email-waitlist-leave-link = Leave the waiting list
email-waitlist-ignore = If you did not ask for this, ignore this message: nothing will happen.

## Waiting list: an offer
email-offer-subject = Seats are free for you: { $title }
email-offer-intro = good news: { $seats } for “{ $title }” on { $when } ({ $room }) are free for you.
email-offer-until = We hold them until { $until }.
email-offer-claim = To take them, open this link and press the button:
email-offer-claim-button = Take the seats
email-offer-decline = Can't come any more? Decline, and the seats go to the next person in line at once:
email-offer-decline-link = Decline the offer

## Reminder
email-reminder-subject = Reminder: { $title }
email-reminder-intro = a reminder: “{ $title }” is on { $when } ({ $room }), with { $seats } reserved for you.
email-reminder-release = CAN'T COME? RELEASE YOUR SEATS so that someone on the waiting list can use them:
email-reminder-release-button = Can't come? Release your seats
email-reminder-calendar = The attached event.ics adds the performance to your calendar.
