/**
 * The A1Topup operator-code table (../shared/seeds/000_10c5686241456ef3.txt, "Operator Code"),
 * every row in document order, names spelled exactly as the document spells them (typos, the en
 * dash in "MTNL – TOPUP" and the stray Arabic letters in "UttarHaryanaBijliVitrانNigam" included),
 * because the code is what is sent and the name is what people compare against the document.
 * catalogue/operators.test.ts re-reads the document and checks this table row by row.
 */

/** The document's "Service" column; `null` where the document leaves it blank. */
export type OperatorService =
  | 'Mobile'
  | 'DTH'
  | 'PostPaid'
  | 'Electricity'
  | 'Gas'
  | 'Insurance'
  | 'Money Transfer'
  | 'Data Card'
  | null;

/** What kind of thing an operator recharges: chooses the validation rules for number and amount. */
export const OPERATOR_CATEGORIES = [
  'mobile',
  'postpaid_mobile',
  'landline',
  'dth',
  'electricity',
  'gas',
  'insurance',
  'money_transfer',
  'data_card',
  'fastag',
  'other',
] as const;
export type OperatorCategory = (typeof OPERATOR_CATEGORIES)[number];

export interface Operator {
  /** The `operatorcode` sent to A1Topup, upper case. */
  readonly code: string;
  readonly name: string;
  readonly service: OperatorService;
  readonly category: OperatorCategory;
}

/** The three landlines the document lists under PostPaid (and gives value1/value2 rules for). */
const LANDLINE_CODES: ReadonlySet<string> = new Set(['LBS', 'LMT', 'LAT']);

/**
 * Blank-service rows that are the mobile operators' own prepaid top-ups (BSNL Recharge, MTNL
 * Recharge, MTNL TOPUP, Idea Lapu): their number is a mobile number, so mobile rules apply.
 */
const BLANK_SERVICE_MOBILE_CODES: ReadonlySet<string> = new Set(['BS', 'MTR', 'MTT', 'RI']);

/**
 * Category from the document's service column, refined by code or name where the column is too
 * coarse:
 * - Mobile → mobile; DTH → dth; Electricity, Gas, Insurance → the same; Money Transfer →
 *   money_transfer; Data Card → data_card.
 * - PostPaid → landline for LBS, LMT, LAT; postpaid_mobile for the rest.
 * - blank service → fastag when the name says "Fastag"; mobile for BLANK_SERVICE_MOBILE_CODES;
 *   other for the rest (Paul Merchants, Airtel Payments Bank, Google Play). Paul Merchants and
 *   Airtel Payments Bank sit among the FASTag rows but their names do not say FASTag, so they get
 *   the looser `other` rules rather than a guess.
 */
export function categoryOf(code: string, name: string, service: OperatorService): OperatorCategory {
  switch (service) {
    case 'Mobile':
      return 'mobile';
    case 'DTH':
      return 'dth';
    case 'PostPaid':
      return LANDLINE_CODES.has(code) ? 'landline' : 'postpaid_mobile';
    case 'Electricity':
      return 'electricity';
    case 'Gas':
      return 'gas';
    case 'Insurance':
      return 'insurance';
    case 'Money Transfer':
      return 'money_transfer';
    case 'Data Card':
      return 'data_card';
    case null:
      if (/fastag/i.test(name)) return 'fastag';
      return BLANK_SERVICE_MOBILE_CODES.has(code) ? 'mobile' : 'other';
  }
}

/** [name, code, service] exactly as the document's rows. */
const ROWS: readonly (readonly [name: string, code: string, service: OperatorService])[] = [
  ['Airtel', 'A', 'Mobile'],
  ['Vodafone', 'V', 'Mobile'],
  ['BSNL - TOPUP', 'BT', 'Mobile'],
  ['RELIANCE - JIO', 'RC', 'Mobile'],
  ['Idea', 'I', 'Mobile'],
  ['BSNL - STV', 'BR', 'Mobile'],
  ['Airtel Digital DTH TV', 'ATV', 'DTH'],
  ['SUNDIRECT DTH TV', 'STV', 'DTH'],
  ['TATASKY DTH TV', 'TTV', 'DTH'],
  ['VIDEOCON DTH TV', 'VTV', 'DTH'],
  ['DISH TV', 'DTV', 'DTH'],
  ['Airtel Postpaid', 'PAT', 'PostPaid'],
  ['Idea Postpaid', 'IP', 'PostPaid'],
  ['Vodafone Postpaid', 'VP', 'PostPaid'],
  ['Tata Docomo Postpaid', 'DP', 'PostPaid'],
  ['BSNL Postpaid', 'BP', 'PostPaid'],
  ['Bsnl Landline', 'LBS', 'PostPaid'],
  ['MTNL Delhi Landline', 'LMT', 'PostPaid'],
  ['Airtel Landline', 'LAT', 'PostPaid'],
  ['JIO POSTPAID', 'JPP', 'PostPaid'],
  ['North Bihar Electricity', 'NBE', 'Electricity'],
  ['JBVNL - JHARKHAND', 'JBVNL', 'Electricity'],
  ['Assam Power Distribution Company Ltd (RAPDR)', 'APDCLR', 'Electricity'],
  ['Mangalore Electricity Supply Co. Ltd (MESCOM) - RAPDR', 'MESCOMR', 'Electricity'],
  ['APDCL (Non-RAPDR) - ASSAM', 'APDCLN', 'Electricity'],
  ['Mangalore Electricity Supply Co. Ltd (Non) - RAPDR', 'MESCOMNR', 'Electricity'],
  ['BSES Rajdhani Power Limited - Delhi', 'BSES', 'Electricity'],
  ['BSES Yamuna Power Limited - Delhi', 'BSESY', 'Electricity'],
  ['Tata Power Delhi Limited - Delhi', 'TPD', 'Electricity'],
  ['Tata Power - MUMBAI', 'TPDM', 'Electricity'],
  ['Hubli Electricity Supply Company Ltd. (HESCOM)', 'HESCOM', 'Electricity'],
  ['South Bihar Electricity', 'SBE', 'Electricity'],
  ['BEST Mumbai', 'BEST', 'Electricity'],
  ['Ajmer Vidyut Vitran Nigam - RAJASTHAN', 'AJV', 'Electricity'],
  ['Bangalore ElectricitySupply Company', 'BESCOM', 'Electricity'],
  ['CESC - WEST BENGAL', 'CESC', 'Electricity'],
  ['Jaipur Vidyut Vitran Nigam - RAJASTHAN', 'JVV', 'Electricity'],
  ['Jodhpur Vidyut Vitran Nigam - RAJASTHAN', 'JDVV', 'Electricity'],
  ['MP Madhaya Kshetra Vidyut Vitaran -Urban', 'MKV', 'Electricity'],
  ['MSEDCL - MAHARASHTRA', 'MSEDCL', 'Electricity'],
  ['Noida Power - NOIDA', 'NP', 'Electricity'],
  ['Paschim Kshetra Vitaran - MADHYA PRADESH', 'PKV', 'Electricity'],
  ['Southern Power - ANDHRA PRADESH', 'SPA', 'Electricity'],
  ['Southern Power - TELANGANA', 'SPT', 'Electricity'],
  ['Torrent Power agra', 'TRP', 'Electricity'],
  ['Central Power Distribution Company of Andhra Pradesh Ltd', 'APCPDCL', 'Electricity'],
  ['Department of Power Arunachal Pradesh', 'ARPDOP', 'Electricity'],
  ['Western Electricity supply co. Of orissa ltd.', 'WESCO', 'Electricity'],
  ['Paschim Gujarat Vij Company Ltd', 'PGVCL', 'Electricity'],
  ['BharatpurElectricityServicesLtd', 'BHES', 'Electricity'],
  ['Muzaffarpur Vidyut Vitran', 'MVV', 'Electricity'],
  ['Madhya Gujarat Vij Company Ltd', 'MGVCL', 'Electricity'],
  ['MEPDCL - MEGHALAYA', 'MEPDCL', 'Electricity'],
  ['KEDL - KOTA', 'KEDL', 'Electricity'],
  ['Dakshin Gujarat Vij Company Ltd', 'DGVCL', 'Electricity'],
  ['WBSEDCL - WEST BENGAL', 'WBSEDCL', 'Electricity'],
  ['SNDL Power - NAGPUR', 'SNDL', 'Electricity'],
  ['Bikaner Electricity Supply Limited', 'BESL', 'Electricity'],
  ['India Power - WEST BENGAL', 'IPWB', 'Electricity'],
  ['BrihanMumbaiElectricSupplyandTransportUndertaking', 'BMESTU', 'Electricity'],
  ['APEPDCL - ANDHRA PRADESH', 'APEPDCL', 'Electricity'],
  ['TNEB - TAMIL NADU', 'TNEB', 'Electricity'],
  ['UPPCL (URBAN) - UTTAR PRADESH', 'UPPCLU', 'Electricity'],
  ['Uttar Pradesh Power Corporation Limited(Rular)', 'UPPCLR', 'Electricity'],
  ['DakshinHaryanaBijliVitranaigam', 'DHBVN', 'Electricity'],
  ['TSNPDCL Telangana northern power', 'TSNPDCL', 'Electricity'],
  ['DNHPowerDistributionCompanyLimited', 'DDCL', 'Electricity'],
  ['GulbargaElectricitySupplyCompanyLimited', 'GESCL', 'Electricity'],
  ['IndiaPowerCorporationLimited', 'IPCL', 'Electricity'],
  ['JamshedpurUtilitiesandServicesCompanyLimited', 'JUSCL', 'Electricity'],
  ['Chhattisgarh State Power Distribution Company Ltd. (CSPDCL)', 'CSPDCL', 'Electricity'],
  ['Goa Electricity', 'GOAELC', 'Electricity'],
  ['UttarGujarat Vij Company Ltd', 'UGVCL', 'Electricity'],
  ['Torrent Power Surat', 'TORRENTSUR', 'Electricity'],
  ['Torrent Power Ahemdabad', 'TORRENTAHM', 'Electricity'],
  ['Gift Power Company Limited', 'GPCL', 'Electricity'],
  ['Himachal Pradesh State Electricity Board Ltd', 'HPSEBL', 'Electricity'],
  ['Jammu & Kashmir power Development department', 'JKPDD', 'Electricity'],
  ['Chamundeshwari Electricity Supply Corporation Ltd. (Cesc,Mysore)', 'CESCOM', 'Electricity'],
  ['NorthDelhiPowerLimited', 'NDPL', 'Electricity'],
  ['MUNICIPALCORPORATIONOFGURUGRAM', 'MCG', 'Electricity'],
  ['Punjab State Power Corporation Limited', 'PSPCL', 'Electricity'],
  ['TripuraStateElectricityCorporationLtd', 'TSECL', 'Electricity'],
  ['UttarHaryanaBijliVitrانNigam', 'UHBV', 'Electricity'],
  ['UttarakhandPowerCorporationLimited', 'UKPCL', 'Electricity'],
  ['Kerala State Electricity Board Ltd.', 'KSEB', 'Electricity'],
  ['kannan devan hills power', 'KDHPCPL', 'Electricity'],
  ['Lakshadweep Electricity Department', 'LED', 'Electricity'],
  ['MP Poorv Kshetra Vidyut Vitaran - Jabalpur', 'MPPKVCLPU', 'Electricity'],
  ['MP Poorv Kshetra Vidyut Vitaran - Rular', 'MPPKVCLPU', 'Electricity'],
  ['Madhya Pradesh Madhya Kshetra Vidyut Vitaran- RURAL', 'MPPKVCLMR', 'Electricity'],
  ['Madhya Pradesh Poorv Kshetra Vidyut Vitaran-URBAN', 'MPPKVCL', 'Electricity'],
  ['Reliance Energy', 'RELIANCE', 'Electricity'],
  ['Torrent Power SHIL', 'TORRENTSHI', 'Electricity'],
  ['Torrent Power Bhivandi', 'TORRENTBHI', 'Electricity'],
  ['Adani power', 'AEML', 'Electricity'],
  ['Manipur State Power Distribution Company Limited (Prepaid)', 'MSPDCLPR', 'Electricity'],
  ['Power & Electricity Department - Mizoram', 'MPED', 'Electricity'],
  ['Department of Power, Nagaland', 'NDOP', 'Electricity'],
  ['New Delhi Municipal Council (NDMC) - Electricity', 'NDMC', 'Electricity'],
  ['NESCO Odisha', 'NESCO', 'Electricity'],
  ['SOUTHCO Odisha', 'SOUTHCO', 'Electricity'],
  ['TP central odisha distribution limited', 'TPCODL', 'Electricity'],
  ['Government of Puducherry Electricity Department', 'PGPED', 'Electricity'],
  ['TP Ajmer Distribution Ltd', 'TPADL', 'Electricity'],
  ['Sikkim Power Rural', 'SPR', 'Electricity'],
  ['Sikkim Power Urban', 'SPU', 'Electricity'],
  ['Kanpur Electricity Supply Company', 'KESCO', 'Electricity'],
  ['Torrent Power Dahej', 'TORRENTDAH', 'Electricity'],
  ['Mahanagar Gas', 'MG', 'Gas'],
  ['Adani Gas', 'AG', 'Gas'],
  ['Gujarat Gas', 'GG', 'Gas'],
  ['Indraprastha Gas', 'IG', 'Gas'],
  ['Hindustan Petroleum Corporation Ltd', 'HPCLGC', 'Gas'],
  ['ICICI Prudential Insurance', 'ICP', 'Insurance'],
  ['Tata AIA Insurance', 'TAI', 'Insurance'],
  ['IMPS', 'IMPS', 'Money Transfer'],
  ['Reliance NetConnect 1X', 'RNET', 'Data Card'],
  ['Reliance NetConnect 3G', 'RNET3', 'Data Card'],
  ['Reliance NetConnect+', 'RNETP', 'Data Card'],
  ['Tata Photon Whiz', 'TPW', 'Data Card'],
  ['Tata Photon+', 'TPP', 'Data Card'],
  ['MTS Mblaze', 'MTM', 'Data Card'],
  ['MTS Mbrowse', 'MTBR', 'Data Card'],
  ['Paul Merchants', 'PMF', null],
  ['Jammu And Kashmir Bank Fastag', 'JKF', null],
  ['Kotak Mahindra Bank - Fastag', 'KMF', null],
  ['Indusind Bank Fastag', 'INDF', null],
  ['Indian Highways Management Company Ltd Fastag', 'IHMCF', null],
  ['Idfc First Bank- Fastag', 'IFF', null],
  ['Icici Bank Fastag', 'ICF', null],
  ['Hdfc Bank - Fastag', 'HDF', null],
  ['Equitas Fastag Recharge', 'EFF', null],
  ['Bank Of Baroda - Fastag', 'BBF', null],
  ['Axis Bank Fastag', 'AXF', null],
  ['Federal Bank - Fastag', 'FDF', null],
  ['Paytm Payments Bank Fastag', 'PTF', null],
  ['Airtel Payments Bank', 'APB', null],
  ['Idbi Bank Fastag', 'IBF', null],
  ['Sbi Bank Fastag', 'SBF', null],
  ['Google Play', 'GLF', null],
  ['BSNL Recharge', 'BS', null],
  ['MTNL - Recharge', 'MTR', null],
  ['MTNL – TOPUP', 'MTT', null],
  ['Idea Lapu', 'RI', null],
];

/** Every operator row, in document order (MPPKVCLPU appears twice, with two names, as in the document). */
export const OPERATORS: readonly Operator[] = Object.freeze(
  ROWS.map(([name, code, service]) =>
    Object.freeze({ code, name, service, category: categoryOf(code, name, service) }),
  ),
);

/** First row per code: the document's first spelling wins for the duplicated MPPKVCLPU. */
const BY_CODE: ReadonlyMap<string, Operator> = new Map(
  [...OPERATORS].reverse().map((operator) => [operator.code, operator] as const),
);

/** The operator with this code (case-insensitive, surrounding spaces ignored), or `undefined`. */
export function findOperator(code: string): Operator | undefined {
  return BY_CODE.get(code.trim().toUpperCase());
}

/** Every row with this code, in document order (two for MPPKVCLPU, one or none otherwise). */
export function findOperatorRows(code: string): readonly Operator[] {
  const wanted = code.trim().toUpperCase();
  return OPERATORS.filter((operator) => operator.code === wanted);
}
