/** Virtual machines and scale sets: the generic ARM contract and `identity`; nothing filled beyond it. */
import type { ResourceType } from '../resourceKit.js';

export function computeTypes(): ResourceType[] {
  return [
    { type: 'Microsoft.Compute/virtualMachines' }, // compute/.../examples/virtualMachineExamples/VirtualMachine_Create_WithSystemAssignedIdentity.json
    { type: 'Microsoft.Compute/virtualMachineScaleSets' },
  ];
}
