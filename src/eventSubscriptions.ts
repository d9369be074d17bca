/**
 * Every Event Grid subscription the app expects, by function: the infra creates them in Azure
 * and the local stack creates the same ones on the emulator, from this one list.
 */
import { RESOURCE_EVENT_SUBSCRIPTION, type ResourceEventSubscription } from './access/eventSubscription.js';

export type AppEventSubscription = ResourceEventSubscription;

export const APP_EVENT_SUBSCRIPTIONS: readonly AppEventSubscription[] = [RESOURCE_EVENT_SUBSCRIPTION];
