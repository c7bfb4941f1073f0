export const BANDS = [];
