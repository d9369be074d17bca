# azd postprovision hook (Windows): same as postprovision.sh — grants the Function App's managed
# identity the Microsoft Graph application permission Application.ReadWrite.OwnedBy, or prints
# the commands for a Privileged Role Administrator. Idempotent.
$ErrorActionPreference = 'Stop'

$GraphAppId = '00000003-0000-0000-c000-000000000000'
$AppRoleId = '18a4783c-866b-4cc7-a460-3d5e5662c884' # Application.ReadWrite.OwnedBy
$Graph = 'https://graph.microsoft.com/v1.0'
$PrincipalId = $env:APP_PRINCIPAL_ID

if (-not $PrincipalId) {
  Write-Error "APP_PRINCIPAL_ID is not set in the azd environment: run 'azd provision' first."
  exit 1
}

function Show-ManualStep {
  Write-Host ""
  Write-Host "The app's identity still needs the Microsoft Graph permission Application.ReadWrite.OwnedBy."
  Write-Host "Ask a Privileged Role Administrator to run (Azure CLI, signed in to this tenant):"
  Write-Host ""
  Write-Host "  `$graphSpId = az ad sp show --id $GraphAppId --query id -o tsv"
  Write-Host "  az rest --method POST --url $Graph/servicePrincipals/$PrincipalId/appRoleAssignments --headers Content-Type=application/json --body ('{""principalId"":""$PrincipalId"",""resourceId"":""' + `$graphSpId + '"",""appRoleId"":""$AppRoleId""}')"
  Write-Host ""
  Write-Host "Until then, pull-credential enrolment and rotation fail; access grants work."
}

if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
  Write-Warning 'Azure CLI (az) not found.'
  Show-ManualStep
  exit 0
}

$graphSpId = az ad sp show --id $GraphAppId --query id -o tsv 2>$null
if ($LASTEXITCODE -ne 0 -or -not $graphSpId) {
  Write-Warning "Could not read the Microsoft Graph service principal (is 'az login' done for this tenant?)."
  Show-ManualStep
  exit 0
}

$existing = az rest --method GET --url "$Graph/servicePrincipals/$PrincipalId/appRoleAssignments" `
  --query "length(value[?appRoleId=='$AppRoleId' && resourceId=='$graphSpId'])" -o tsv 2>$null
if ($LASTEXITCODE -eq 0 -and $existing -and $existing -ne '0') {
  Write-Host "Microsoft Graph Application.ReadWrite.OwnedBy is already granted to $PrincipalId."
  exit 0
}

$body = @{ principalId = $PrincipalId; resourceId = $graphSpId; appRoleId = $AppRoleId } | ConvertTo-Json -Compress
$bodyFile = New-TemporaryFile
Set-Content -Path $bodyFile -Value $body -NoNewline
az rest --method POST --url "$Graph/servicePrincipals/$PrincipalId/appRoleAssignments" `
  --headers Content-Type=application/json --body "@$bodyFile" | Out-Null
$ok = $LASTEXITCODE -eq 0
Remove-Item $bodyFile
if ($ok) { Write-Host "Granted Microsoft Graph Application.ReadWrite.OwnedBy to $PrincipalId." } else { Show-ManualStep }
exit 0
