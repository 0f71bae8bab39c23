# The product document's Python (Flask) example bot, verbatim but for two lines: the base URL and
# the token come from the environment, and the port is configurable (it listens on 3000 there).
import os

from flask import Flask, request, jsonify
import requests

app = Flask(__name__)

NDOTO_BASE_URL = os.environ["NDOTO_BASE_URL"]
BOT_ACCESS_TOKEN = os.environ["BOT_ACCESS_TOKEN"]

@app.route("/webhook", methods=["POST"])
def webhook():
    data = request.json

    # Only handle incoming customer messages
    if data.get("event") != "message_created":
        return "", 200
    if data.get("message_type") == "outgoing":
        return "", 200

    conversation_id = data["conversation"]["id"]
    account_id = data["account"]["id"]
    customer_message = data.get("content", "")

    reply = f'Thanks for reaching out! You said: "{customer_message}". Our team will get back to you shortly.'

    requests.post(
        f"{NDOTO_BASE_URL}/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages",
        json={
            "content": reply,
            "message_type": "outgoing",
            "private": False,
        },
        headers={
            "api_access_token": BOT_ACCESS_TOKEN,
            "Content-Type": "application/json",
        },
    )

    return "", 200

if __name__ == "__main__":
    app.run(port=int(os.environ.get("BOT_PORT", "3000")))
