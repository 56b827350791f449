/** SQL of one's own contact fields. Runs as the caller. */

export const UPDATE_MY_CONTACT = "select app.update_my_contact($1, $2)";

export const MY_CONTACT = `
  select u.id, u.phone, u.email, p.address
    from public.users u
    left join public.patients p on p.id = u.id
   where u.id = auth.uid() and u.deleted_at is null`;

export interface MyContactRow {
  id: string;
  phone: string;
  email: string;
  address: string | null;
}
