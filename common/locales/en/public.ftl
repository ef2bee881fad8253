# The public site: performance list and page, booking form, confirm and cancel pages, the
# ticket page and error pages. Sentence case, written for people.

site-name = AzioneLab
language-switch = Language
all-performances = All performances

## Counts. $count is a number.
seats = { $count ->
    [one] 1 seat
   *[other] { $count } seats
}
seats-available = { $count ->
    [0] no seats available
    [one] 1 seat available
   *[other] { $count } seats available
}
people = { $count ->
    [one] 1 person
   *[other] { $count } people
}

## Booking status of a performance
status-scheduled = Booking opens soon
status-open = Booking open
status-closed = Booking closed
status-cancelled = Cancelled

## The list of performances
index-title = Performances
index-empty = No performances are announced at the moment. Please come back soon.

## The booking form
booking-heading = Book free seats
booking-fix-fields = Please correct the fields marked below.
booking-unknown-fields = This form has no field { $names }.
field-name = Name
field-email = E-mail
field-email-hint = We send a link to confirm your booking to this address.
field-phone = Phone (optional)
field-party-size = Seats
field-party-size-hint = At most { $max } per booking.
field-notes = Notes (optional)
booking-submit = Book

error-name-required = Please enter your name.
error-name-too-long = Please shorten your name to at most 100 characters.
error-name-control = Your name contains characters we cannot store.
error-email-required = Please enter your e-mail address: we send the confirmation link there.
error-email-invalid = Please enter a complete e-mail address, such as name@example.org.
error-phone-invalid = A phone number may have at most 32 digits, spaces and + - ( ).
error-notes-too-long = Please shorten your notes to at most 1000 characters.
error-notes-control = Your notes contain characters we cannot store.
error-party-size-required = Please say how many seats you need.
error-party-size-invalid = Please enter the number of seats as a whole number.
error-party-size-range = Please choose between 1 and { $max } seats.
error-field-invalid = Please check this field.

## After booking
booking-sent-title = Check your e-mail
booking-sent-text = We have sent you a link to confirm your booking of { $seats } for “{ $title }” on { $when }. Your seats are held only once you confirm.
booking-sent-nothing = Nothing after a few minutes? Look in your spam folder. If the address was mistyped, simply book again with the right one.

## Confirming (the page behind the e-mailed link)
confirm-title = Confirm your booking
confirm-text = Press the button to confirm your reservation. We will then e-mail your ticket.
confirm-what = { $seats } for “{ $title }” on { $when } ({ $room }).
confirm-button = Confirm my booking
confirmed-title = Booking confirmed
confirmed-text = Your seats are reserved. Your ticket with its QR code is on its way by e-mail.

## Cancelling (the link in the ticket e-mail)
cancel-title = Cancel your reservation
cancel-text = Do you want to cancel this reservation?
cancel-consequence = Your seats go back to other visitors and your ticket stops working. This cannot be undone.
cancel-button = Yes, cancel my reservation
cancel-keep = Keep my reservation
cancelled-title = Reservation cancelled
cancelled-text = Your seats are free again. Thank you for letting us know.

## The ticket page (/t/…)
ticket-title = Ticket
ticket-for = Ticket for { $people }.
ticket-valid = Show this ticket at the door.
ticket-used = This ticket has been used.
ticket-not-confirmed = This reservation is not confirmed.
ticket-not-valid = This ticket is not valid.
ticket-check-in = Check in
ticket-door-page = Door page
ticket-qr-alt = Your ticket's QR code
ticket-code-hint = If the QR code cannot be scanned, door staff can type this code:
checkin-done = Checked in: { $people }.
checkin-already = Already checked in at { $time }.
checkin-unknown = Unknown ticket.
checkin-cancelled = Ticket cancelled: this reservation is no longer valid.
checkin-wrong-performance = Not for this performance.
checkin-outside-window = Check-in is not open for this performance now.

## Error pages: error-CODE-title and error-CODE-text for the API error code CODE (dashes for underscores)
error-internal-error-title = Something went wrong
error-internal-error-text = Please try again in a moment.
error-not-found-title = Page not found
error-not-found-text = There is nothing at this address. The link may be mistyped or out of date.
error-method-not-allowed-title = This page cannot do that
error-method-not-allowed-text = The address is right, but not for this kind of request. Go back and try again from the page.
error-invalid-token-title = This link is not valid
error-invalid-token-text = The link may be incomplete, or replaced by a newer one. Please use the link in your most recent e-mail.
error-token-expired-title = This link has expired
error-token-expired-text = Confirmation links are valid for a limited time. Please book again.
error-unknown-ticket-title = Unknown ticket
error-unknown-ticket-text = There is no ticket with this code. Please use the link in your most recent e-mail.
error-insufficient-capacity-title = Not enough seats
error-insufficient-capacity-text = There are not enough free seats left for this booking. Try fewer seats or another performance.
error-booking-closed-title = Booking is closed
error-booking-closed-text = This performance cannot be booked now.
error-not-valid-title = Already used
error-not-valid-text = This reservation was checked in, so it can no longer be cancelled.
error-rate-limited-title = Too many attempts
error-rate-limited-text = Please wait a minute, then try again.
error-service-unavailable-title = Temporarily unavailable
error-service-unavailable-text = We cannot reach our records right now. Please try again in a moment.
error-forbidden-title = Not allowed
error-forbidden-text = Your account may not open this page.
error-unauthenticated-title = Please log in
error-unauthenticated-text = This page is for staff. Log in and try again.
error-validation-failed-title = Please check your input
error-validation-failed-text = Something in the form was not right. Go back and check the fields.

ticket-calendar = Add to my calendar (.ics)
waitlist-heading = Join the waiting list
waitlist-full-text = This performance is full. Join the waiting list: when seats come free we offer them by e-mail, in order of joining.
waitlist-email-hint = We send a link to confirm your place in line to this address.
waitlist-submit = Join the waiting list

waitlist-sent-title = Check your e-mail
waitlist-sent-text = We have sent you a link to confirm your place on the waiting list. You are in line only once you confirm.
waitlist-confirm-title = Join the waiting list
waitlist-confirm-text = Press the button to take your place in line. When seats come free we offer them by e-mail, in order of joining.
waitlist-confirm-button = Join the waiting list
waitlist-leave-title = Leave the waiting list
waitlist-leave-text = Press the button to leave the waiting list (or decline an offer): the seats go to the next person in line.
waitlist-leave-button = Leave the waiting list
waitlist-claim-title = Take the offered seats
waitlist-claim-text = Press the button to confirm your reservation. We will then e-mail your ticket.
waitlist-claim-button = Take the seats
waitlist-waiting-title = You are on the waiting list
waitlist-waiting-text = Your place in line: { $position }. We will e-mail you when seats come free.
waitlist-offered-title = Seats are waiting for you
waitlist-offered-text = Seats have been offered to you: see the offer we e-mailed you.
waitlist-claimed-title = Booking confirmed
waitlist-claimed-text = Your seats are reserved. Your ticket with its QR code is on its way by e-mail.
waitlist-left-title = You have left the waiting list
waitlist-left-text = Thank you for letting us know.
error-seats-available-title = Seats are available
error-seats-available-text = There are enough free seats now: please book them on the performance page instead.
error-offer-expired-title = This offer has expired
error-offer-expired-text = The seats were held for a limited time and have gone to the next person in line.
