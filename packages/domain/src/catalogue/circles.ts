/**
 * The A1Topup circle-code table (../shared/seeds/000_10c5686241456ef3.txt, "Circle Code"), every
 * row in document order. The document lists some states without a code: they stay in the table
 * (so a person can be told why) but cannot be sent, so `findCircle` does not return them.
 */

export interface Circle {
  /** The state or circle name as the document spells it. */
  readonly name: string;
  /** The `circlecode` sent to A1Topup; `null` where the document gives none. */
  readonly code: string | null;
}

/** [name, code] exactly as the document's rows. */
const ROWS: readonly (readonly [name: string, code: string | null])[] = [
  ['Andaman And Nicobar', null],
  ['Andhra Pradesh', '13'],
  ['Arunachal Pradesh', null],
  ['Assam', '24'],
  ['Bihar', '17'],
  ['Chandigarh', null],
  ['Chhattisgarh', '27'],
  ['Dadra Nager Haveli', null],
  ['Daman And Div', null],
  ['Goa', null],
  ['Gujarat', '12'],
  ['Haryana', '20'],
  ['Himachal Pradesh', '21'],
  ['Jammu And Kashmir', '25'],
  ['Jharkhand', '22'],
  ['Karnataka', '9'],
  ['Kerala', '14'],
  ['Lakshadweep', null],
  ['Madhya Pradesh', '16'],
  ['Maharashtra', '4'],
  ['Manipur', null],
  ['Meghalaya', null],
  ['Mizoram', null],
  ['Nagaland', null],
  ['New Delhi', null],
  ['Orissa', '23'],
  ['Pondicherry', null],
  ['Punjab', '1'],
  ['Rajasthan', '18'],
  ['Sikkim', null],
  ['Tamil Nadu', '8'],
  ['Tripura', null],
  ['Uttar Pradesh East', '10'],
  ['Uttaranchal', null],
  ['West Bengal', '2'],
  ['Uttar Pradesh West', '11'],
  ['Mumbai', '3'],
  ['Delhi', '5'],
  ['CHENNAI', '7'],
  ['NORTH EAST', '26'],
  ['Kolkata', '6'],
];

export const CIRCLES: readonly Circle[] = Object.freeze(
  ROWS.map(([name, code]) => Object.freeze({ name, code })),
);

/** Names compare case-insensitively with runs of spaces treated as one. */
function normaliseName(value: string): string {
  return value.trim().replace(/\s+/g, ' ').toLowerCase();
}

// Looked up per order (and per CSV row): maps, not a scan of the table. The first row wins, as a scan would.
const BY_CODE = new Map<string, Circle>();
const BY_NAME = new Map<string, Circle>();
for (const circle of [...CIRCLES].reverse()) {
  if (circle.code !== null) BY_CODE.set(circle.code, circle);
  BY_NAME.set(normaliseName(circle.name), circle);
}

/** The row for a circle code or a state name, whether or not it has a code; `undefined` if unknown. */
export function lookupCircle(codeOrName: string): Circle | undefined {
  const text = codeOrName.trim();
  if (text === '') return undefined;
  return BY_CODE.get(text) ?? BY_NAME.get(normaliseName(text));
}

/** The circle for a code or state name, only if it has a code (a circle without one cannot be sent). */
export function findCircle(codeOrName: string): (Circle & { readonly code: string }) | undefined {
  const circle = lookupCircle(codeOrName);
  return circle !== undefined && hasCode(circle) ? circle : undefined;
}

function hasCode(circle: Circle): circle is Circle & { readonly code: string } {
  return circle.code !== null;
}
