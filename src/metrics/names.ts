/**
 * The names the app's metrics go by: the meter, its instruments and their attributes. The alert
 * rules (infra/app/alerts.bicep) and the status page's readout use the same names.
 */
export const METER_NAME = 'acr-pull-automation';

/** Instrument names: the alert rules in infra/app/alerts.bicep query them (test/unit/infra/alerts.test.ts holds the two in step). */
export const METRIC_NAMES = {
  /** Every audit row, by `outcome`, `action` and (for failures and denials) `errorCode`. */
  decisions: 'acrpull.decisions',
  /** Rotation runs that ended: `outcome` rotated or failed. */
  rotations: 'acrpull.rotations',
  /** Milliseconds from an ARM event's `eventTime` to the end of the decisions it caused. */
  eventToDecision: 'acrpull.event_to_decision',
} as const;

/** The attribute names the instruments carry. */
export const METRIC_ATTRIBUTES = { outcome: 'outcome', action: 'action', errorCode: 'errorCode' } as const;
