# azd postdeploy hook (Windows): same as postdeploy.sh — once the functions exist, turns on
# EVENT_SUBSCRIPTIONS_ENABLED and provisions again to create the Event Grid subscriptions.
$ErrorActionPreference = 'Stop'

if ($env:EVENT_SUBSCRIPTIONS_ENABLED -eq 'true') { exit 0 }

azd env set EVENT_SUBSCRIPTIONS_ENABLED true
foreach ($attempt in 1..3) {
  Write-Host "Creating the Event Grid subscriptions (attempt $attempt of 3)..."
  azd provision --no-prompt
  if ($LASTEXITCODE -eq 0) { exit 0 }
  Start-Sleep -Seconds 30
}
Write-Error "Event Grid subscriptions not created yet: run 'azd provision' once the functions show in the portal."
exit 1
