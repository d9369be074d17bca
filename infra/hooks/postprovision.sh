#!/bin/sh
# azd postprovision hook: grants the Function App's managed identity the Microsoft Graph
# application permission Application.ReadWrite.OwnedBy, which it needs to create the pull-only
# applications and rotate their passwords (only applications it owns).
#
# ARM can't grant a Graph app role, so this runs `az rest` against Microsoft Graph
# (https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignments). Granting an
# application permission needs a Privileged Role Administrator (or Global Administrator); without
# that role this prints the commands for one to run, and `azd up` carries on.
# Idempotent: re-run with `azd hooks run postprovision`.
set -eu

GRAPH_APP_ID=00000003-0000-0000-c000-000000000000
APP_ROLE_ID=18a4783c-866b-4cc7-a460-3d5e5662c884 # Application.ReadWrite.OwnedBy
GRAPH=https://graph.microsoft.com/v1.0

if [ -z "${APP_PRINCIPAL_ID:-}" ]; then
  echo "APP_PRINCIPAL_ID is not set in the azd environment: run 'azd provision' first." >&2
  exit 1
fi

print_manual_step() {
  cat <<MSG

The app's identity still needs the Microsoft Graph permission Application.ReadWrite.OwnedBy.
Ask a Privileged Role Administrator to run (Azure CLI, signed in to this tenant):

  graphSpId=\$(az ad sp show --id $GRAPH_APP_ID --query id -o tsv)
  az rest --method POST \\
    --url $GRAPH/servicePrincipals/$APP_PRINCIPAL_ID/appRoleAssignments \\
    --headers Content-Type=application/json \\
    --body "{\"principalId\":\"$APP_PRINCIPAL_ID\",\"resourceId\":\"\$graphSpId\",\"appRoleId\":\"$APP_ROLE_ID\"}"

Until then, pull-credential enrolment and rotation fail; access grants work.
MSG
}

if ! command -v az >/dev/null 2>&1; then
  echo "Azure CLI (az) not found." >&2
  print_manual_step
  exit 0
fi

if ! graph_sp_id=$(az ad sp show --id "$GRAPH_APP_ID" --query id -o tsv 2>/dev/null) || [ -z "$graph_sp_id" ]; then
  echo "Could not read the Microsoft Graph service principal (is 'az login' done for this tenant?)." >&2
  print_manual_step
  exit 0
fi

existing=$(az rest --method GET \
  --url "$GRAPH/servicePrincipals/$APP_PRINCIPAL_ID/appRoleAssignments" \
  --query "length(value[?appRoleId=='$APP_ROLE_ID' && resourceId=='$graph_sp_id'])" -o tsv 2>/dev/null || echo "")
if [ -n "$existing" ] && [ "$existing" != "0" ]; then
  echo "Microsoft Graph Application.ReadWrite.OwnedBy is already granted to $APP_PRINCIPAL_ID."
  exit 0
fi

if az rest --method POST \
  --url "$GRAPH/servicePrincipals/$APP_PRINCIPAL_ID/appRoleAssignments" \
  --headers Content-Type=application/json \
  --body "{\"principalId\":\"$APP_PRINCIPAL_ID\",\"resourceId\":\"$graph_sp_id\",\"appRoleId\":\"$APP_ROLE_ID\"}" >/dev/null; then
  echo "Granted Microsoft Graph Application.ReadWrite.OwnedBy to $APP_PRINCIPAL_ID."
else
  print_manual_step
fi
