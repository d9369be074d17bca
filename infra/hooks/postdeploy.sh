#!/bin/sh
# azd postdeploy hook: creates the Event Grid subscriptions once the functions exist.
# Event Grid rejects an Azure Function endpoint whose function isn't deployed, so the first
# provision runs with EVENT_SUBSCRIPTIONS_ENABLED=false; after the first deploy this turns it on
# and provisions again. Later `azd up` runs provision with it on and skip this.
set -eu

if [ "${EVENT_SUBSCRIPTIONS_ENABLED:-false}" = "true" ]; then
  exit 0
fi

azd env set EVENT_SUBSCRIPTIONS_ENABLED true
# The Functions host lists newly deployed functions to ARM after a short delay: retry a little.
for attempt in 1 2 3; do
  echo "Creating the Event Grid subscriptions (attempt $attempt of 3)..."
  if azd provision --no-prompt; then
    exit 0
  fi
  sleep 30
done
echo "Event Grid subscriptions not created yet: run 'azd provision' once the functions show in the portal." >&2
exit 1
