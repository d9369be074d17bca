// A resource group in a watched subscription other than the home one, to hold that
// subscription's Event Grid system topic (a subscription's system topic lives in that subscription).
targetScope = 'subscription'

param name string
param location string
param tags object = {}

resource group 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: name
  location: location
  tags: tags
}

output name string = group.name
