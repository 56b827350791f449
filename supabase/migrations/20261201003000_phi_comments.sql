-- Every table and column that holds PHI (protected health information: what
-- identifies a patient, and clinical content) says so in its comment,
-- 'PHI: ...', ahead of what it already said. Studio shows the comments; the
-- ops views (next migration) are checked against them: none reads a PHI
-- column (tests/ops_views.test.ts), and a test fails on a column whose name
-- says PHI without such a comment.

comment on table public.users is
  'PHI: identifies people, patients among them (names, phone, e-mail). Everyone who can sign in: admins, doctors and patients. Deleting a user is soft (deleted_at), so clinical records keep their author and subject.';
comment on column public.users.name is 'PHI: a person''s first name.';
comment on column public.users.last_name is 'PHI: a person''s last name.';
comment on column public.users.phone is 'PHI: a person''s phone number.';
comment on column public.users.email is 'PHI: a person''s e-mail address.';

comment on table public.patients is
  'PHI: a patient''s demographic record. The clinical identity of a user whose role is patient. Deleting a patient is soft (users.deleted_at): their appointments and clinic histories stay.';
comment on column public.patients.address is 'PHI: the patient''s home address.';
comment on column public.patients.gender is 'PHI: the patient''s gender.';
comment on column public.patients.birth_date is 'PHI: the patient''s date of birth.';

comment on table public.patient_antecedents is
  'PHI: clinical content. A patient''s medical antecedents: allergies, current medications, personal and family history. Clinical content: never readable by admins.';
comment on column public.patient_antecedents.allergies is 'PHI: the patient''s allergies.';
comment on column public.patient_antecedents.medications is 'PHI: the patient''s current medications.';
comment on column public.patient_antecedents.medical_history is 'PHI: the patient''s medical history.';
comment on column public.patient_antecedents.family_history is 'PHI: the patient''s family history.';

comment on table public.appointments is
  'PHI: an appointment''s reason is clinical. A patient''s appointment with a doctor for a specialty. Status goes PENDING → CONFIRMED → COMPLETED; CANCELLED only from PENDING or CONFIRMED and not once it has started.';
comment on column public.appointments.reason is 'PHI: why the patient asked for the appointment.';

comment on table public.clinic_histories is
  'PHI: the clinical record of a visit. The doctor''s record of an appointment: one per appointment, written by that appointment''s doctor.';
comment on column public.clinic_histories.consultation_reason is 'PHI: the reason for the consultation.';
comment on column public.clinic_histories.symptoms is 'PHI: the patient''s symptoms.';
comment on column public.clinic_histories.treatment is 'PHI: the treatment given.';

comment on table public.clinic_history_diagnostics is
  'PHI: diagnoses of a visit. Diagnoses of a clinic history, in the order given.';
comment on column public.clinic_history_diagnostics.name is 'PHI: a diagnosis.';
comment on column public.clinic_history_diagnostics.description is 'PHI: a diagnosis''s description.';

comment on table public.clinic_history_physical_exams is
  'PHI: physical exams of a visit. Physical examinations of a clinic history.';
comment on column public.clinic_history_physical_exams.name is 'PHI: a physical exam.';
comment on column public.clinic_history_physical_exams.description is 'PHI: its findings.';

comment on table public.clinic_history_vital_signs is
  'PHI: vital signs of a visit. Vital signs taken during the appointment.';
comment on column public.clinic_history_vital_signs.name is 'PHI: a vital sign.';
comment on column public.clinic_history_vital_signs.value is 'PHI: its measured value.';
comment on column public.clinic_history_vital_signs.unit is 'PHI: its unit.';
comment on column public.clinic_history_vital_signs.measurement is 'PHI: how it was measured.';
comment on column public.clinic_history_vital_signs.description is 'PHI: a note on it.';

comment on table public.prescriptions is
  'PHI: a visit''s prescription. The prescription of a clinic history (at most one).';
comment on column public.prescriptions.name is 'PHI: the prescription''s title.';
comment on column public.prescriptions.description is 'PHI: the prescription''s description.';

comment on table public.prescription_medications is
  'PHI: the medications prescribed. The medications of a prescription (at least one).';
comment on column public.prescription_medications.name is 'PHI: a medication.';
comment on column public.prescription_medications.quantity is 'PHI: the quantity prescribed.';
comment on column public.prescription_medications.unit is 'PHI: its unit.';
comment on column public.prescription_medications.frequency is 'PHI: how often.';
comment on column public.prescription_medications.duration is 'PHI: for how long.';
comment on column public.prescription_medications.indications is 'PHI: the doctor''s indications.';
comment on column public.prescription_medications.administration_route is 'PHI: how it is taken.';
comment on column public.prescription_medications.description is 'PHI: a note on it.';

comment on table public.consultation_messages is
  'PHI: the chat of a live consultation. The chat of a consultation between its doctor and patient: text, or a confirmed file. A sender''s client_msg_id makes a retried send return the original message.';
comment on column public.consultation_messages.body is 'PHI: a message''s text.';

comment on table public.consultation_files is
  'PHI: files shared in a live consultation. A file shared in a consultation. Its object is consultation-files/{consultation_id}/{id} in Storage; pending until its uploader confirms the upload. No URL is ever stored.';
comment on column public.consultation_files.filename is 'PHI: a file''s name, often naming the patient or the study.';

comment on table public.conversations is
  'PHI: chat conversations. A chat between a doctor and a patient (direct, linked to a consultation, or the 24/7 emergency channel), or among doctors (group). Its Realtime channel is conversation:{id}.';
comment on column public.conversations.title is 'PHI: a group''s title (free text).';
comment on column public.conversations.description is 'PHI: a group''s description (free text).';

comment on table public.chat_messages is
  'PHI: chat messages. A conversation''s messages: text, or files with an optional caption. Never deleted: a soft delete (deleted_at) leaves a tombstone without content; the text is kept in private.chat_message_versions. A sender''s client_msg_id makes a retried send return the original message.';
comment on column public.chat_messages.body is 'PHI: a message''s text.';
comment on column public.chat_messages.search_vector is 'PHI: the message''s words, for search.';

comment on table public.chat_files is
  'PHI: files shared in chats. A file shared in a conversation: pdf, jpg, png, doc, docx, mp3 or mp4, at most 10 MB. Its object is chat-files/{conversation_id}/{id} in Storage; pending until a message of its uploader carries it.';
comment on column public.chat_files.filename is 'PHI: a file''s name, often naming the patient or the study.';

comment on table public.chat_message_reports is
  'PHI: reports of chat messages. A participant reports a message to the admins. An admin reads the reported message''s text (and no other) through app.chat_reports().';
comment on column public.chat_message_reports.details is 'PHI: the reporter''s free text.';

comment on table private.chat_message_versions is
  'PHI: earlier texts of edited or deleted chat messages. A message''s text before each edit, and at its deletion. Retention only: no API role reads it.';
comment on column private.chat_message_versions.body is 'PHI: a message''s earlier text.';

comment on table public.ai_conversations is
  'PHI: a doctor''s conversation with the WhatsApp assistant. The WhatsApp assistant''s conversation with a doctor (one per doctor). The model sees the system prompt, the summary of the messages up to summarized_until and the messages after it, so the context stays bounded. pending_action: a change (cancel or confirm an appointment) the assistant proposed, carried out only if the doctor''s next message is an explicit yes.';
comment on column public.ai_conversations.summary is 'PHI: a summary of the conversation, patients'' names and appointments among it.';
comment on column public.ai_conversations.pending_action is 'PHI: the action the assistant proposed, about a patient''s appointment.';

comment on table public.ai_messages is
  'PHI: the messages of a doctor''s conversation with the assistant. The messages of an AI conversation: the doctor''s (user) and the assistant''s. token_count: the model''s count for an answer, an estimate (4 characters a token) for the doctor''s text.';
comment on column public.ai_messages.content is 'PHI: a message''s text.';

comment on table public.whatsapp_messages is
  'PHI: WhatsApp messages sent and received. Every WhatsApp message received (by Twilio''s MessageSid: a retry is stored once) or sent. user_id: the clinic user at the other end, if known; sent_by: who sent it through the API. An inbound message is stored before any call out; processed_at is set once it was answered.';
comment on column public.whatsapp_messages.from_phone is 'PHI: the sender''s phone number.';
comment on column public.whatsapp_messages.to_phone is 'PHI: the recipient''s phone number.';
comment on column public.whatsapp_messages.body is 'PHI: the message''s text.';
comment on column public.whatsapp_messages.error_message is 'PHI: Twilio''s error text, which may quote the phone number.';
