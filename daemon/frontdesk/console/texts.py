"""The console's words in the practice's language ([practice] language: fr or en). Every
text a receptionist reads comes from here; a key missing in one language fails the tests."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Accueil téléphonique",
        "login": "Connexion",
        "name": "Identifiant",
        "password": "Mot de passe",
        "log_in": "Se connecter",
        "log_out": "Se déconnecter",
        "login_wrong": "Identifiant ou mot de passe incorrect.",
        "login_locked": "Trop d'essais : réessayez dans {seconds} s.",
        "logged_in_as": "Connecté : {user}",
        "queue": "File d'attente",
    },
    "en": {
        "title": "Telephone reception",
        "login": "Log in",
        "name": "User name",
        "password": "Password",
        "log_in": "Log in",
        "log_out": "Log out",
        "login_wrong": "Wrong user name or password.",
        "login_locked": "Too many attempts: try again in {seconds} s.",
        "logged_in_as": "Logged in: {user}",
        "queue": "Queue",
    },
}
