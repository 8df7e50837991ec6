//! The domain's id newtypes are stored as the text they wrap.

use crate::domain::{ChannelId, ConversationKey, ExternalId};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

macro_rules! text_id {
    ($($name:ident),+) => {$(
        impl<DB: Database> Type<DB> for $name
        where
            str: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $name
        where
            String: Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok($name::new(<String as Decode<DB>>::decode(value)?))
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $name
        where
            for<'a> &'a str: Encode<'q, DB>,
        {
            fn encode_by_ref(&self, buf: &mut DB::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as Encode<DB>>::encode(self.as_str(), buf)
            }
        }
    )+};
}

text_id!(ChannelId, ConversationKey, ExternalId);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LinkState;

    #[tokio::test]
    async fn ids_and_states_go_to_the_database_as_their_text_and_come_back() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:")
            .await
            .expect("in-memory SQLite");
        let (id, text): (ExternalId, String) = sqlx::query_as("SELECT $1, $1")
            .bind(ExternalId::new("T-42"))
            .fetch_one(&pool)
            .await
            .expect("round trip");
        assert_eq!((id.as_str(), text.as_str()), ("T-42", "T-42"));
        let (state, text): (LinkState, String) = sqlx::query_as("SELECT $1, $1")
            .bind(LinkState::Closed)
            .fetch_one(&pool)
            .await
            .expect("round trip");
        assert_eq!((state, text.as_str()), (LinkState::Closed, "closed"));
        let unknown = sqlx::query_scalar::<_, LinkState>("SELECT 'archived'")
            .fetch_one(&pool)
            .await;
        assert!(
            unknown.is_err(),
            "an unknown word is an error, not a default"
        );
    }
}
