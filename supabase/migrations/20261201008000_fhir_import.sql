-- =============================================================================
-- FHIR import: where records that came from another system are remembered.
--
-- POST /v1/fhir/Bundle registers a patient with antecedents (Conditions) and
-- past vital signs (Observations). The model is not changed: the patient is a
-- patient (app.register_patient), a Condition is an entry of their
-- antecedents' medical history. Two things had no home:
--
--   - the source's identifier (system + value) of every imported resource, so
--     that a second import of the same Bundle creates nothing new;
--   - a vital sign measured elsewhere, which belongs to no appointment here
--     (clinic_history_vital_signs hangs off a clinic history, which hangs off
--     an appointment with one of our doctors).
--
-- Both run as the caller under the same rules as the rest: an identifier is
-- as visible as its patient; an imported vital sign is clinical content (the
-- patient and their doctors, never an admin), written only by a doctor of
-- that patient.
-- =============================================================================

create table public.fhir_source_identifiers (
  id uuid primary key default gen_random_uuid(),
  patient_id uuid not null references public.patients (id) on delete cascade,
  resource_type text not null check (resource_type in ('Patient', 'Condition', 'Observation')),
  system text not null check (char_length(system) between 1 and 500),
  value text not null check (char_length(value) between 1 and 500),
  created_by uuid not null references public.users (id),
  created_at timestamptz not null default now(),
  constraint fhir_source_identifiers_key unique (resource_type, system, value)
);

comment on table public.fhir_source_identifiers is
  'PHI: another system''s identifiers of a patient''s records. The identifier (system, value) another system gave a resource we imported from a FHIR Bundle, '
  'and the patient it became part of: a second import of the same resource creates nothing.';

create index fhir_source_identifiers_patient_idx on public.fhir_source_identifiers (patient_id);
create index fhir_source_identifiers_created_by_idx on public.fhir_source_identifiers (created_by);

alter table public.fhir_source_identifiers enable row level security;
revoke all on public.fhir_source_identifiers from anon;
revoke update, delete on public.fhir_source_identifiers from authenticated;

create policy "Readers of a patient can read their source identifiers"
  on public.fhir_source_identifiers for select to authenticated
  using ((select app.can_read_patient(patient_id)));

-- An admin registers people, not clinical content: only a Patient's identifier.
create policy "Admins and the patient's doctors can record source identifiers"
  on public.fhir_source_identifiers for insert to authenticated
  with check (
    created_by = (select auth.uid())
    and (
      app.is_my_patient(patient_id)
      or ((select app.is_admin()) and resource_type = 'Patient')
    )
  );

create table public.imported_vital_signs (
  id uuid primary key default gen_random_uuid(),
  patient_id uuid not null references public.patients (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 200),
  loinc_code text check (loinc_code ~ '^[0-9]{1,7}-[0-9]$'),
  value text not null check (char_length(value) between 1 and 100),
  unit text not null check (char_length(unit) between 1 and 50),
  effective_at timestamptz not null,
  recorded_by uuid not null references public.users (id),
  created_at timestamptz not null default now()
);

comment on table public.imported_vital_signs is
  'PHI: clinical content. A vital sign measured outside the clinic, imported from a FHIR Observation: clinical content, '
  'for the patient and their doctors only.';

create index imported_vital_signs_patient_idx on public.imported_vital_signs (patient_id, effective_at, id);
create index imported_vital_signs_recorded_by_idx on public.imported_vital_signs (recorded_by);

alter table public.imported_vital_signs enable row level security;
revoke all on public.imported_vital_signs from anon;
revoke update, delete on public.imported_vital_signs from authenticated;

create policy "Patients and their doctors can read imported vital signs"
  on public.imported_vital_signs for select to authenticated
  using ((select app.can_read_clinical_data(patient_id)));

create policy "Doctors can import their patients' vital signs"
  on public.imported_vital_signs for insert to authenticated
  with check (app.is_my_patient(patient_id) and recorded_by = (select auth.uid()));

revoke truncate, trigger, references on public.fhir_source_identifiers, public.imported_vital_signs
  from anon, authenticated;

comment on column public.fhir_source_identifiers.value is
  'PHI: another system''s identifier of the patient (a medical record number).';
comment on column public.imported_vital_signs.value is 'PHI: the measured value.';
comment on column public.imported_vital_signs.name is 'PHI: what was measured.';
