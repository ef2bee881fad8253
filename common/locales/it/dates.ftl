# Date e ore. $weekday e $month vengono dagli elenchi qui sotto; $time è nel formato 24 ore
# (19:30), nel fuso orario del teatro.
date = { $weekday } { $day } { $month } { $year }
date-time = { $date }, ore { $time }

weekday-1 = lunedì
weekday-2 = martedì
weekday-3 = mercoledì
weekday-4 = giovedì
weekday-5 = venerdì
weekday-6 = sabato
weekday-7 = domenica

month-1 = gennaio
month-2 = febbraio
month-3 = marzo
month-4 = aprile
month-5 = maggio
month-6 = giugno
month-7 = luglio
month-8 = agosto
month-9 = settembre
month-10 = ottobre
month-11 = novembre
month-12 = dicembre
