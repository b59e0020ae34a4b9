"""The figures' names and one-sentence definitions, in the practice's languages (fr, en): the
same words in the terminal report, the CSV summary, the HTML report, the console's figures page
and docs/report.md. ``{within}``, ``{short}`` and ``{hours}`` are the [report] settings."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "calls": "Calls received",
        "calls_while_closed": "Calls while closed",
        "offered": "Calls for the desk",
        "answered_in_time_rate": "Answered in time",
        "abandonment_rate": "Abandonment",
        "short_abandons": "Short hang-ups",
        "wait_average": "Average wait",
        "wait_p90": "Wait, 90th percentile",
        "handle_average": "Average handle time",
        "first_call_resolution": "First-call resolution",
        "hidden_numbers": "Hidden numbers",
        "booking_intents": "Calls to book",
        "booking_conversion": "Booking conversion",
        "without_staff_rate": "Handled without staff",
        "emergencies": "Emergency calls",
        "emergency_to_human_average": "Emergency: time to a human",
        "emergency_to_human_max": "Emergency: longest time to a human",
        "callbacks_asked": "Callbacks asked",
        "callbacks_missed": "Missed patients to call back",
        "callbacks_completed": "Callbacks completed",
        "callback_delay_average": "Callback delay",
        "messages": "Messages",
        "messages_pending": "Messages pending",
        "messages_pending_age_average": "Age of pending messages",
        "message_delay_average": "Time to deal with a message",
        "announced_wait_average": "Wait announced",
        "announced_calls_wait_average": "Wait had, when announced",
        "announced_kept_rate": "Announcements kept",
        "satisfaction_answers": "Satisfaction answers",
        "satisfaction_average": "Satisfaction (1-5)",
    },
    "fr": {
        "calls": "Appels reçus",
        "calls_while_closed": "Appels hors ouverture",
        "offered": "Appels pour l'accueil",
        "answered_in_time_rate": "Décrochés à temps",
        "abandonment_rate": "Abandons",
        "short_abandons": "Raccrochés aussitôt",
        "wait_average": "Attente moyenne",
        "wait_p90": "Attente, 90e centile",
        "handle_average": "Durée moyenne de traitement",
        "first_call_resolution": "Résolution au premier appel",
        "hidden_numbers": "Numéros masqués",
        "booking_intents": "Appels pour prendre rendez-vous",
        "booking_conversion": "Rendez-vous pris",
        "without_staff_rate": "Traités sans secrétaire",
        "emergencies": "Appels d'urgence",
        "emergency_to_human_average": "Urgence : délai jusqu'à un humain",
        "emergency_to_human_max": "Urgence : délai le plus long",
        "callbacks_asked": "Rappels demandés",
        "callbacks_missed": "Patients perdus à rappeler",
        "callbacks_completed": "Rappels aboutis",
        "callback_delay_average": "Délai de rappel",
        "messages": "Messages",
        "messages_pending": "Messages en attente",
        "messages_pending_age_average": "Âge des messages en attente",
        "message_delay_average": "Délai de traitement d'un message",
        "announced_wait_average": "Attente annoncée",
        "announced_calls_wait_average": "Attente réelle, quand annoncée",
        "announced_kept_rate": "Annonces tenues",
        "satisfaction_answers": "Réponses de satisfaction",
        "satisfaction_average": "Satisfaction (1 à 5)",
    },
}

DEFINITIONS: dict[str, dict[str, str]] = {
    "en": {
        "calls": "Every call that reached the practice's line, including those FreeSWITCH's "
                 "fallback took while the daemon was down, counted when it began.",
        "calls_while_closed": "Calls received while the desk was not open (lunch, closed, "
                              "public holiday, closure), override included.",
        "offered": "Calls that asked for the desk: they entered the waiting queue, or an "
                   "overflow rule (queue full, nobody logged in) turned them away.",
        "answered_in_time_rate": "Share of the calls for the desk (less the short hang-ups) "
                                 "that a receptionist answered within {within} s of waiting.",
        "abandonment_rate": "Share of the calls for the desk (less the short hang-ups) whose "
                            "caller hung up while waiting.",
        "short_abandons": "Callers who hung up within {short} s of waiting (a wrong number, a "
                          "change of mind), left out of both rates above.",
        "wait_average": "Average wait in the queue of the callers a receptionist answered.",
        "wait_p90": "The wait that 90 % of the answered callers did not exceed (nearest rank).",
        "handle_average": "Average time a receptionist spent on the line with a caller, from "
                          "their answer to the end of the call.",
        "first_call_resolution": "Share of the calls from a visible number after which the "
                                 "same number did not call again within {hours} h (hidden "
                                 "numbers are left out: they cannot be matched).",
        "hidden_numbers": "Calls from a hidden or unusable number, left out of first-call "
                          "resolution.",
        "booking_intents": "Calls that meant to book a new appointment (contact reason "
                           "'appointment_new', as the flow's booking nodes record it).",
        "booking_conversion": "Share of the calls to book in which the caller booked an "
                              "appointment in the agenda (a request left for the staff does "
                              "not count).",
        "without_staff_rate": "Share of the calls received that ended without staff: "
                              "information heard, a message left, an appointment booked, moved "
                              "or cancelled, or a request left for the staff to confirm.",
        "emergencies": "Calls that took the emergency option.",
        "emergency_to_human_average": "Average time from the start of an emergency call to a "
                                      "human answering (the desk, or the on-call number), among "
                                      "those a human answered.",
        "emergency_to_human_max": "The longest time an emergency call took to reach a human.",
        "callbacks_asked": "Callers who asked, while waiting, to be called back instead.",
        "callbacks_missed": "Callers who hung up after waiting and were put on the list to "
                            "call back (call_back_missed, or a receptionist's call back now).",
        "callbacks_completed": "Callbacks (asked or missed) in which the patient was reached "
                               "and put through to a receptionist.",
        "callback_delay_average": "Average time from a callback's request to the patient "
                                  "being put through, among the completed ones.",
        "messages": "Messages left by callers (message nodes, voicemail, the fallback).",
        "messages_pending": "Of those, the messages nobody has marked done yet, at the time "
                            "of the report.",
        "messages_pending_age_average": "Average age of the messages still pending, at the "
                                        "time of the report.",
        "message_delay_average": "Average time from a message to the staff marking it done.",
        "announced_wait_average": "Among the answered callers who were told a wait, the "
                                  "average total wait the first announcement foresaw (the wait "
                                  "so far plus the estimate said).",
        "announced_calls_wait_average": "The average wait those same callers actually had.",
        "announced_kept_rate": "Share of those callers answered no later than announced.",
        "satisfaction_answers": "Callers who answered the satisfaction question after "
                                "speaking with the desk ([feedback]).",
        "satisfaction_average": "Their average answer, from 1 (not satisfied) to 5 (very "
                                "satisfied).",
    },
    "fr": {
        "calls": "Tous les appels arrivés sur la ligne du cabinet, y compris ceux que le "
                 "secours de FreeSWITCH a pris quand le démon était arrêté, comptés à leur début.",
        "calls_while_closed": "Appels reçus quand l'accueil n'était pas ouvert (pause déjeuner, "
                              "fermé, jour férié, fermeture exceptionnelle), forçage compris.",
        "offered": "Appels qui ont demandé l'accueil : entrés dans la file d'attente, ou "
                   "renvoyés par une règle de débordement (file pleine, personne connecté).",
        "answered_in_time_rate": "Part des appels pour l'accueil (hors raccrochés aussitôt) "
                                 "décrochés par une secrétaire en moins de {within} s d'attente.",
        "abandonment_rate": "Part des appels pour l'accueil (hors raccrochés aussitôt) dont "
                            "l'appelant a raccroché pendant l'attente.",
        "short_abandons": "Appelants qui ont raccroché dans les {short} premières secondes "
                          "d'attente (erreur, changement d'avis), exclus des deux taux "
                          "ci-dessus.",
        "wait_average": "Attente moyenne dans la file des appelants décrochés par une "
                        "secrétaire.",
        "wait_p90": "L'attente que 90 % des appelants décrochés n'ont pas dépassée (rang le "
                    "plus proche).",
        "handle_average": "Temps moyen passé en ligne par une secrétaire avec un appelant, du "
                          "décroché à la fin de l'appel.",
        "first_call_resolution": "Part des appels d'un numéro visible après lesquels ce numéro "
                                 "n'a pas rappelé dans les {hours} h (numéros masqués exclus : "
                                 "impossible de les rapprocher).",
        "hidden_numbers": "Appels d'un numéro masqué ou inutilisable, exclus de la résolution "
                          "au premier appel.",
        "booking_intents": "Appels venus prendre un nouveau rendez-vous (motif "
                           "'appointment_new', celui des nœuds de prise de rendez-vous).",
        "booking_conversion": "Part des appels pour prendre rendez-vous où l'appelant a pris "
                              "un rendez-vous dans l'agenda (une demande laissée à l'accueil "
                              "ne compte pas).",
        "without_staff_rate": "Part des appels reçus terminés sans secrétaire : information "
                              "écoutée, message laissé, rendez-vous pris, déplacé ou annulé, "
                              "ou demande laissée à l'accueil.",
        "emergencies": "Appels qui ont choisi l'option urgence.",
        "emergency_to_human_average": "Délai moyen entre le début d'un appel d'urgence et la "
                                      "réponse d'un humain (l'accueil, ou le numéro de garde), "
                                      "parmi ceux auxquels un humain a répondu.",
        "emergency_to_human_max": "Le plus long délai d'un appel d'urgence jusqu'à un humain.",
        "callbacks_asked": "Appelants qui ont demandé, pendant l'attente, à être rappelés.",
        "callbacks_missed": "Appelants qui ont raccroché après avoir attendu et ont été mis "
                            "sur la liste des rappels (call_back_missed, ou « rappeler "
                            "maintenant »).",
        "callbacks_completed": "Rappels (demandés ou patients perdus) où le patient a été "
                               "joint et mis en relation avec une secrétaire.",
        "callback_delay_average": "Délai moyen entre la demande de rappel et la mise en "
                                  "relation, parmi les rappels aboutis.",
        "messages": "Messages laissés par les appelants (nœuds de message, messagerie, "
                    "secours).",
        "messages_pending": "Parmi eux, ceux que personne n'a encore marqués traités, au "
                            "moment du rapport.",
        "messages_pending_age_average": "Âge moyen des messages en attente, au moment du "
                                        "rapport.",
        "message_delay_average": "Délai moyen entre un message et son marquage « traité ».",
        "announced_wait_average": "Parmi les appelants décrochés à qui une attente a été "
                                  "annoncée, l'attente totale moyenne prévue par la première "
                                  "annonce (attente déjà faite plus l'estimation dite).",
        "announced_calls_wait_average": "L'attente moyenne réellement faite par ces mêmes "
                                        "appelants.",
        "announced_kept_rate": "Part de ces appelants décrochés au plus tard à l'heure "
                               "annoncée.",
        "satisfaction_answers": "Appelants qui ont répondu à la question de satisfaction après "
                                "avoir parlé à l'accueil ([feedback]).",
        "satisfaction_average": "Leur réponse moyenne, de 1 (pas satisfait) à 5 (très "
                                "satisfait).",
    },
}

HTML_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Telephone reception: figures for {label}",
        "previous": "previous period ({label})",
        "figure": "Figure",
        "definition": "Definition",
        "figures": "The figures",
        "heatmap": "Calls per hour of the week",
        "heatmap_note": "Calls received in each hour of each weekday, over the whole period.",
        "waits": "Wait distribution",
        "waits_note": "Answered callers by their wait in the queue (10 s steps); the line is "
                      "the answered-in-time threshold, {within} s.",
        "abandonment": "Abandonment, day by day",
        "abandonment_note": "The abandonment rate of each day with calls for the desk; the "
                            "line is the target, {target}.",
        "reasons": "Contact reasons",
        "reasons_note": "Calls received per contact reason.",
        "trend": "Calls per day",
        "trend_note": "Calls received each day; the darker part was handled without staff.",
        "weekdays": "Mon Tue Wed Thu Fri Sat Sun",
        "target": "target",
        "no_calls": "No call in this period.",
        "made": "Made by frontdesk from the practice's own call records.",
        "none": "no reason recorded",
    },
    "fr": {
        "title": "Accueil téléphonique : chiffres de {label}",
        "previous": "période précédente ({label})",
        "figure": "Indicateur",
        "definition": "Définition",
        "figures": "Les chiffres",
        "heatmap": "Appels par heure de la semaine",
        "heatmap_note": "Appels reçus à chaque heure de chaque jour de la semaine, sur toute "
                        "la période.",
        "waits": "Répartition des attentes",
        "waits_note": "Appelants décrochés selon leur attente dans la file (par 10 s) ; le "
                      "trait marque le seuil « décroché à temps », {within} s.",
        "abandonment": "Abandons, jour par jour",
        "abandonment_note": "Le taux d'abandon de chaque jour avec des appels pour l'accueil ; "
                            "le trait marque l'objectif, {target}.",
        "reasons": "Motifs d'appel",
        "reasons_note": "Appels reçus par motif.",
        "trend": "Appels par jour",
        "trend_note": "Appels reçus chaque jour ; la partie foncée a été traitée sans "
                      "secrétaire.",
        "weekdays": "lun mar mer jeu ven sam dim",
        "target": "objectif",
        "no_calls": "Aucun appel sur cette période.",
        "made": "Établi par frontdesk à partir des appels enregistrés au cabinet.",
        "none": "motif non enregistré",
    },
}
"""The HTML report's own words (the figures' are above)."""
