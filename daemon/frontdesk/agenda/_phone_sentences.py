"""What a caller hears at the agenda nodes (frontdesk.agenda.phone), in the practice's
language; ``{appointment}`` is `frontdesk.speech.appointment`'s words, ``{who}`` a
practitioner's, ``{key}`` a key."""

SENTENCES = {
    "fr": {
        "practitioners": "Pour le premier rendez-vous disponible, tapez 1.",
        "practitioner": "Pour {who}, tapez {key}.",
        "slots": "Voici les prochains rendez-vous disponibles.",
        "slot": "Pour {appointment}, tapez {key}.",
        "chosen": "Vous avez choisi {appointment}. Pour confirmer ce rendez-vous, tapez 1. "
                  "Pour entendre d'autres rendez-vous, tapez 2.",
        "booked": "Votre rendez-vous est enregistré : {appointment}. Merci.",
        "moved": "Votre rendez-vous est déplacé : {appointment}. Merci.",
        "taken": "Ce rendez-vous vient d'être pris.",
        "no_slots": "Nous n'avons pas d'autre rendez-vous à vous proposer par téléphone : "
                    "nous vous mettons en relation avec le secrétariat.",
        "unreachable": "Notre agenda ne peut pas être consulté pour le moment : nous vous "
                       "mettons en relation avec le secrétariat.",
        "birth_date": "Tapez votre date de naissance en huit chiffres : le jour, le mois, "
                      "puis l'année. Par exemple, pour le trois mars mille neuf cent "
                      "soixante-quinze : zéro, trois, zéro, trois, un, neuf, sept, cinq.",
        "number_ending": "Pour vérifier votre identité, tapez les quatre derniers chiffres du "
                         "numéro de téléphone de votre dossier.",
        "not_found": "Nous ne trouvons pas votre dossier : nous vous mettons en relation "
                     "avec le secrétariat.",
        "no_appointments": "Nous ne trouvons aucun rendez-vous à venir à votre nom : nous "
                           "vous mettons en relation avec le secrétariat.",
        "appointment": "Votre rendez-vous du {appointment}. Pour l'annuler, tapez 1. "
                       "Pour le déplacer, tapez 2.",
        "next": "Pour le rendez-vous suivant, tapez 3.",
        "cancel": "Vous allez annuler votre rendez-vous du {appointment}. Pour confirmer "
                  "l'annulation, tapez 1. Pour revenir en arrière, tapez 2.",
        "cancelled": "Votre rendez-vous est annulé. Merci de nous avoir prévenus.",
        "gone": "Ce rendez-vous n'est plus dans notre agenda : nous vous mettons en relation "
                "avec le secrétariat.",
        "half_day": "Pour un rendez-vous le matin, tapez 1. L'après-midi, tapez 2. "
                    "Si cela vous est égal, tapez 3.",
        "days": "Tapez les jours qui vous conviennent, puis la touche dièse : 1 pour lundi, "
                "2 pour mardi, 3 pour mercredi, 4 pour jeudi, 5 pour vendredi, 6 pour samedi. "
                "Si tous les jours vous conviennent, tapez 9 puis dièse.",
        "change": "Pour déplacer un rendez-vous, tapez 1. Pour l'annuler, tapez 2.",
        "requested": "Votre demande est enregistrée : le secrétariat vous rappellera pour la "
                     "confirmer. Merci.",
        "new_patient": "Vous n'êtes pas encore patient du cabinet. Après le bip, dites votre "
                       "nom et votre prénom, puis tapez dièse.",
        "placeholder": "Nouveau patient (à compléter)",
    },
    "en": {
        "practitioners": "For the first available appointment, press 1.",
        "practitioner": "For {who}, press {key}.",
        "slots": "Here are the next available appointments.",
        "slot": "For {appointment}, press {key}.",
        "chosen": "You chose {appointment}. To confirm this appointment, press 1. "
                  "To hear other appointments, press 2.",
        "booked": "Your appointment is booked: {appointment}. Thank you.",
        "moved": "Your appointment is moved: {appointment}. Thank you.",
        "taken": "This appointment has just been taken.",
        "no_slots": "We have no other appointment to offer by phone: we are putting you "
                    "through to the front desk.",
        "unreachable": "Our agenda cannot be reached at the moment: we are putting you "
                       "through to the front desk.",
        "birth_date": "Please type your date of birth in eight digits: the day, the month, "
                      "then the year. For example, for the third of March nineteen "
                      "seventy-five: zero, three, zero, three, one, nine, seven, five.",
        "number_ending": "To check your identity, please type the last four digits of the "
                         "phone number on your file.",
        "not_found": "We cannot find your file: we are putting you through to the front desk.",
        "no_appointments": "We cannot find any upcoming appointment in your name: we are "
                           "putting you through to the front desk.",
        "appointment": "Your appointment on {appointment}. To cancel it, press 1. "
                       "To move it, press 2.",
        "next": "For the next appointment, press 3.",
        "cancel": "You are about to cancel your appointment on {appointment}. To confirm "
                  "the cancellation, press 1. To go back, press 2.",
        "cancelled": "Your appointment is cancelled. Thank you for letting us know.",
        "gone": "This appointment is no longer in our agenda: we are putting you through to "
                "the front desk.",
        "half_day": "For a morning appointment, press 1. For the afternoon, press 2. "
                    "If either suits you, press 3.",
        "days": "Type the days that suit you, then the hash key: 1 for Monday, 2 for Tuesday, "
                "3 for Wednesday, 4 for Thursday, 5 for Friday, 6 for Saturday. "
                "If any day suits you, press 9 then hash.",
        "change": "To move an appointment, press 1. To cancel it, press 2.",
        "requested": "Your request is recorded: the front desk will call you back to "
                     "confirm it. Thank you.",
        "new_patient": "You are not yet a patient of the practice. After the beep, say your "
                       "first and last name, then press the hash key.",
        "placeholder": "New patient (to complete)",
    },
}
